"""The Redis cache backend keeps one client per pool, and still works as a cache."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.testservers import port_open, require_service


@pytest.fixture
def redis_cache():
    if not port_open("127.0.0.1", 6379):
        require_service("redis", "no Redis on 127.0.0.1:6379")
    url = "redis://127.0.0.1:6379/13"
    config = {
        "default": {
            "BACKEND": "helpdesk.cache.SharedClientRedisCache",
            "LOCATION": [url, url],  # a writer and a reader: two pools
            "KEY_PREFIX": "hd-test-cache",
        }
    }
    with override_settings(CACHES=config):
        cache = caches.create_connection("default")
        yield cache
        cache.clear()


def test_one_client_per_pool_and_the_values_come_back(redis_cache):
    redis_cache.set("a", {"x": 1}, 30)
    assert redis_cache.get("a") == {"x": 1}
    assert redis_cache.add("n", 1)
    assert redis_cache.incr("n", 1) == 2
    backend = redis_cache._cache
    writer = backend.get_client(write=True)
    assert backend.get_client(write=True) is writer
    reader = backend.get_client(write=False)
    assert backend.get_client(write=False) is reader
    assert reader is not writer  # the second server's pool
    assert set(backend._clients) == {0, 1}
    assert backend._pools[0] is writer.connection_pool


def _refuse(*args, **kwargs):
    raise AssertionError("count_up went key by key on Redis")


def test_counters_count_up_and_keep_their_lifetime(settings, monkeypatch):
    """helpdesk.cache.count_up: one pipeline for all keys on Redis; the same result elsewhere."""
    import uuid

    from django.core.cache import cache, caches
    from django.core.cache.backends.redis import RedisCache

    from helpdesk.cache import count_up

    keys = [f"test:count:{uuid.uuid4().hex}", f"test:count:{uuid.uuid4().hex}"]
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # The proxy django.core.cache.cache is seen through: one pipeline, not
        # the backend's add and incr (three round trips a key).
        monkeypatch.setattr(backend, "add", _refuse)
        monkeypatch.setattr(backend, "incr", _refuse)
    assert count_up(cache, keys, 300) == [1, 1]
    assert count_up(cache, keys[:1], 300) == [2]
    assert cache.get_many(keys) == {keys[0]: 2, keys[1]: 1}
    assert count_up(cache, [keys[1], keys[0]], 300) == [2, 3]  # in the order asked
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):
        client = cache._cache.get_client()
        ttl = client.ttl(cache.make_key(keys[0]))
        assert 0 < ttl <= 300  # created with its lifetime, not made endless by INCR
    cache.delete_many(keys)
