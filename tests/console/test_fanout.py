"""One event to several channel groups (console/fanout.py), against a real Redis."""

import asyncio
import os
import uuid

import pytest
from channels.layers import InMemoryChannelLayer

from console.fanout import send_to_groups
from tests.aio import run_coroutine
from tests.testservers import port_open, require_service

REDIS = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_layer():
    from channels_redis.core import RedisChannelLayer

    if not port_open("127.0.0.1", 6379) and "127.0.0.1:6379" in REDIS:
        require_service("redis", "nothing listens on 127.0.0.1:6379")
    return lambda **kw: RedisChannelLayer(
        hosts=[{"address": REDIS, "socket_timeout": 30}],
        prefix=f"fan{uuid.uuid4().hex[:8]}",
        **kw,
    )


async def _drain(layer, channel):
    got = []
    while True:
        try:
            got.append(await asyncio.wait_for(layer.receive(channel), timeout=0.3))
        except TimeoutError:
            return got


def test_every_member_of_any_group_gets_the_event_once(redis_layer):
    async def run():
        layer = redis_layer()
        a = await layer.new_channel()
        b = await layer.new_channel()
        outsider = await layer.new_channel()
        await layer.group_add("region.1", a)
        await layer.group_add("ticket.7", a)  # a is in two of the groups
        await layer.group_add("user.9", b)
        await layer.group_add("region.2", outsider)
        event = {"type": "ticket.changed", "ticket_id": 7}
        await send_to_groups(layer, ["all", "ticket.7", "region.1", "user.9", "all"], event)
        got = {name: await _drain(layer, name) for name in (a, b, outsider)}
        await layer.flush()
        return got, a, b, outsider

    got, a, b, outsider = run_coroutine(run())
    assert got[a] == [{"type": "ticket.changed", "ticket_id": 7}]
    assert got[b] == [{"type": "ticket.changed", "ticket_id": 7}]
    assert got[outsider] == []


def test_groups_nobody_listens_to_cost_two_round_trips_not_three_each(redis_layer):
    calls = []

    async def run():
        layer = redis_layer()
        member = await layer.new_channel()
        await layer.group_add("user.3", member)
        connection = layer.connection(0)
        original = connection.pipeline

        def counting_pipeline(*args, **kwargs):
            calls.append("pipeline")
            return original(*args, **kwargs)

        connection.pipeline = counting_pipeline
        await send_to_groups(
            layer,
            ["all", "ticket.1", "region.1", "central", "user.3", "institution.4"],
            {"type": "x"},
        )
        connection.pipeline = original
        got = await _drain(layer, member)
        await layer.flush()
        return got

    assert run_coroutine(run()) == [{"type": "x"}]
    assert calls == ["pipeline", "pipeline"]


def test_a_full_channel_is_skipped_as_channels_redis_does(redis_layer):
    async def run():
        layer = redis_layer(capacity=2)
        member = await layer.new_channel()
        await layer.group_add("all", member)
        for i in range(4):
            await send_to_groups(layer, ["all"], {"type": "x", "n": i})
        got = await _drain(layer, member)
        await layer.flush()
        return got

    assert [m["n"] for m in run_coroutine(run())] == [0, 1]


def test_other_layers_get_plain_group_sends():
    async def run():
        layer = InMemoryChannelLayer()
        member = await layer.new_channel()
        await layer.group_add("region.1", member)
        await send_to_groups(layer, ["region.1", "all"], {"type": "y"})
        return await asyncio.wait_for(layer.receive(member), timeout=1)

    assert run_coroutine(run()) == {"type": "y"}
