"""Django's Redis cache, with one client object per connection pool instead of one per call.

django.core.cache.backends.redis builds a new ``redis.Redis`` for every cache
operation (``get_client``); its constructor fills a table of ~1,300 response
callbacks, which cost about a fifth of a millisecond of CPU each time — eight
times per filing (session, rate limits, cached catalogue), more on busy pages.
A ``redis.Redis`` is safe to share between threads (every command borrows a
connection from the pool), so one per pool does the same work.
"""

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
