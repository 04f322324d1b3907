"""The channel layer of a test: Redis (when REDIS_URL is set) with a prefix of its own."""

import uuid


def private_redis_layer(settings) -> None:
    """Give the Redis channel layer (if used) a prefix of its own for this test.

    Also lift redis-py 8's default 5 s socket timeout above channels-redis'
    5 s BZPOPMIN: with both at 5 s an idle connection's receive loop dies
    after five seconds (see the report; settings need the same fix).
    """
    layers = settings.CHANNEL_LAYERS
    if "redis" not in layers["default"]["BACKEND"].lower():
        return
    config = dict(layers["default"].get("CONFIG", {}))
    hosts = [
        h if isinstance(h, dict) else {"address": h, "socket_timeout": 30}
        for h in config.get("hosts", [settings.REDIS_URL])
    ]
    config.update(prefix=f"t{uuid.uuid4().hex[:8]}", hosts=hosts)
    settings.CHANNEL_LAYERS = {"default": {**layers["default"], "CONFIG": config}}
