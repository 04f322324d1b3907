"""Django's Redis cache, with one client object per connection pool instead of one per call.

django.core.cache.backends.redis builds a new ``redis.Redis`` for every cache
operation (``get_client``); its constructor fills a table of ~1,300 response
callbacks, which cost about a fifth of a millisecond of CPU each time — eight
times per filing (session, rate limits, cached catalogue), more on busy pages.
A ``redis.Redis`` is safe to share between threads (every command borrows a
connection from the pool), so one per pool does the same work.
"""

import contextlib
import contextvars

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(
                    self._servers[index], **self._pool_options
                )
            client = self._client(connection_pool=self._pools[index])
            self._clients[index] = client
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient


def redis_of(cache):
    """(the writer's Redis client, the cache's key maker) of a Redis cache; None for any other.

    For the few operations Django's cache API has no word for (pipelines,
    lists). django.core.cache.cache is a proxy to this thread's backend: it
    is looked through.
    """
    connections = getattr(cache, "_connections", None)
    if connections is not None:
        cache = connections[cache._alias]
    if not isinstance(cache, RedisCache):
        return None
    return cache._cache.get_client(write=True), cache.make_and_validate_key


def count_up(cache, keys, timeout: int) -> list[int]:
    """Add one to each counter in `keys`, creating missing ones with `timeout` seconds to live;
    return their new values, in the order of `keys`.

    On the Redis cache all counters move in one round trip (a pipeline of
    ``SET … NX EX`` and ``INCR`` per key: a new counter gets its lifetime, an
    existing one keeps its own); elsewhere (the local-memory cache of the
    embedded default) through the cache's own ``add``/``incr``, which are
    atomic there too. Values stay readable with ``cache.get`` (Django's
    Redis serializer stores integers as plain numbers).
    """
    keys = list(keys)
    redis = redis_of(cache)
    if redis is not None:
        client, full_key = redis
        pipe = client.pipeline(transaction=False)
        for key in keys:
            full = full_key(key)
            pipe.set(full, 0, ex=timeout, nx=True)
            pipe.incr(full)
        return [int(value) for value in pipe.execute()[1::2]]
    counts = []
    for key in keys:
        if cache.add(key, 1, timeout=timeout):
            counts.append(1)
            continue
        try:
            counts.append(cache.incr(key))
        except ValueError:  # expired between the two calls
            cache.set(key, 1, timeout=timeout)
            counts.append(1)
    return counts


# --- reading ahead ----------------------------------------------------------------
#
# Some flags are read by several steps of one action, each with its own
# ``cache.get``: on filing, whether any webhook is subscribed and the version of
# the surge incidents. Each step registers its key for the occasion here; the
# action reads them all in one round trip when it begins (``reading_ahead``),
# and the steps ask through ``ahead_get``, which answers from that read.

_AHEAD_KEYS: dict[str, list[str]] = {}
_AHEAD: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "helpdesk_cache_ahead", default=None
)


def read_ahead_on(occasion: str, key: str) -> None:
    """Have `key` read (with the others of `occasion`) when an action of that occasion begins."""
    keys = _AHEAD_KEYS.setdefault(occasion, [])
    if key not in keys:
        keys.append(key)


@contextlib.contextmanager
def reading_ahead(cache, occasion: str):
    """Inside this block, ``ahead_get(cache, key)`` of the occasion's keys asks no server.

    A key the cache does not hold is not answered ahead (the step reads it,
    and sets it, as before); if the cache cannot be reached, nothing is, and
    each step meets the error (and handles it) as it would without this block.
    """
    keys = _AHEAD_KEYS.get(occasion)
    found = None
    if keys:
        try:
            found = cache.get_many(keys)
        except Exception:
            found = None
    token = _AHEAD.set(found)
    try:
        yield
    finally:
        _AHEAD.reset(token)


def ahead_get(cache, key: str):
    """``cache.get(key)``, answered from the read ahead when it holds `key`."""
    found = _AHEAD.get()
    if found is not None and key in found:
        return found[key]
    return cache.get(key)


def forget_ahead(key: str) -> None:
    """This process changed `key`: a later ``ahead_get`` in the same block reads it again."""
    found = _AHEAD.get()
    if found is not None:
        found.pop(key, None)
