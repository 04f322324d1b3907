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
