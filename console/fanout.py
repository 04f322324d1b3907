"""One change to several channel groups in two Redis round trips, not three per group.

A ticket change goes to five or six groups (all, the ticket, its region,
the assignee, the requester, the institution: console/live.py). channels_redis
sends to one group at a time: it expires and reads the group's members, then
writes the message to each member's queue — three round trips a group, most
of them for groups nobody is listening to, eighteen for one filing.

``send_to_groups`` does the same work for all the groups at once on the
Redis layer: one pipeline reads every group's members (after expiring the
stale ones), and one pipeline per Redis server expires the members' old
messages and adds the new one with the same capacity rule as channels_redis
(a full channel is skipped and counted). A consumer that is a member of two
of the groups gets the event once, not twice (the event is the same for
every group). Any other layer (the in-memory one of the embedded default
and the tests) gets plain ``group_send`` calls.

It relies on channels_redis's helpers (group keys, the consistent hash, the
per-channel messages), pinned in requirements; tests/console/test_fanout.py
checks it against a real Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time

log = logging.getLogger(__name__)

# The Lua script channels_redis runs for a group send: add the message to
# each channel's sorted set unless the channel is at capacity.
_ADD_UNLESS_FULL = """
local over_capacity = 0
local current_time = ARGV[#ARGV - 1]
local expiry = ARGV[#ARGV]
for i=1,#KEYS do
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


def _is_redis_layer(layer) -> bool:
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # pragma: no cover - channels_redis is a dependency
        return False
    return isinstance(layer, RedisChannelLayer)


async def send_to_groups(layer, groups, message) -> None:
    """Send `message` to every group in `groups` (each member once)."""
    groups = list(dict.fromkeys(groups))
    if not groups:
        return
    if not _is_redis_layer(layer):
        await asyncio.gather(*(layer.group_send(group, message) for group in groups))
        return
    for group in groups:
        assert layer.require_valid_group_name(group), "Group name not valid"

    # 1. Every group's members, stale ones expired first: one pipeline per server.
    by_server: dict[int, list[str]] = {}
    for group in groups:
        by_server.setdefault(layer.consistent_hash(group), []).append(group)
    stale_before = int(time.time()) - layer.group_expiry
    channel_names: dict[str, None] = {}
    for index, server_groups in by_server.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for group in server_groups:
            key = layer._group_key(group)
            pipe.zremrangebyscore(key, min=0, max=stale_before)
            pipe.zrange(key, 0, -1)
        replies = await pipe.execute()
        for members in replies[1::2]:
            for name in members:
                channel_names[name.decode("utf8")] = None
    if not channel_names:
        return

    # 2. The message to each member's queue: one pipeline per server.
    keys_by_server, message_by_key, capacity_by_key = layer._map_channel_keys_to_connection(
        list(channel_names), message
    )
    now = time.time()
    for index, channel_keys in keys_by_server.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for key in channel_keys:
            pipe.zremrangebyscore(key, min=0, max=int(now) - int(layer.expiry))
        pipe.eval(
            _ADD_UNLESS_FULL,
            len(channel_keys),
            *channel_keys,
            *[message_by_key[key] for key in channel_keys],
            *[capacity_by_key[key] for key in channel_keys],
            now,
            layer.expiry,
        )
        over_capacity = (await pipe.execute())[-1]
        if over_capacity:
            log.info(
                "%s of %s channels over capacity in groups %s",
                over_capacity,
                len(channel_keys),
                ", ".join(groups),
            )
