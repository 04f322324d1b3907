"""Filing reads the cached flags its steps ask for (webhooks, surges) in one round trip."""

import pytest
from django.core.cache import caches

from api import webhooks
from helpdesk import cache as helpdesk_cache
from tickets import actions, surges

FLAGS = {webhooks.ANY_ACTIVE_KEY, surges._VERSION_KEY}


@pytest.fixture
def reads(monkeypatch):
    """Every get / get_many of the default cache, as ("get", key) or ("get_many", keys)."""
    backend = caches["default"]
    seen = []
    real_get, real_many = backend.get, backend.get_many
    inside_many = []

    def get(key, default=None, version=None):
        if not inside_many:
            seen.append(("get", key))
        return real_get(key, default, version)

    def get_many(keys, version=None):
        keys = list(keys)
        seen.append(("get_many", frozenset(keys)))
        inside_many.append(True)  # the local-memory cache's get_many calls get per key
        try:
            return real_many(keys, version)
        finally:
            inside_many.pop()

    monkeypatch.setattr(backend, "get", get)
    monkeypatch.setattr(backend, "get_many", get_many)
    # The surge version lives in the cache where it is shared (Redis); read it there here too.
    monkeypatch.setattr(surges, "_shared_cache", lambda: True)
    return seen


def file(cast, subject):
    return actions.create_ticket(
        actor=cast.teacher_a, institution=cast.school_a, subject=subject, text="Не се отваря."
    )


def flag_reads(seen):
    return [
        (kind, key)
        for kind, key in seen
        if (kind == "get" and key in FLAGS) or (kind == "get_many" and key & FLAGS)
    ]


def test_a_filing_asks_the_cache_for_both_flags_at_once(cast, reads):
    file(cast, "Първа")  # sets the flags the cache did not hold yet
    reads.clear()
    ticket = file(cast, "Втора")
    assert ticket.pk
    assert flag_reads(reads) == [("get_many", frozenset(FLAGS))]


def test_a_flag_the_cache_lost_is_read_and_set_by_its_step(cast, reads):
    file(cast, "Първа")
    caches["default"].delete(webhooks.ANY_ACTIVE_KEY)
    reads.clear()
    file(cast, "Втора")
    assert flag_reads(reads) == [
        ("get_many", frozenset(FLAGS)),
        ("get", webhooks.ANY_ACTIVE_KEY),
    ]
    assert caches["default"].get(webhooks.ANY_ACTIVE_KEY) is False  # set again for the next


def test_a_subscription_made_meanwhile_is_seen_by_the_next_read(cast, reads):
    from api.models import WebhookSubscription

    file(cast, "Първа")
    with helpdesk_cache.reading_ahead(caches["default"], "filing"):
        assert webhooks.any_active_subscription() is False  # from the read ahead
        WebhookSubscription.objects.create(
            name="Регистър", url="https://hooks.example.org/in", secret="s" * 32
        )
        assert webhooks.any_active_subscription() is True  # forgotten, read again


def test_an_unreachable_cache_leaves_each_step_to_read_for_itself(cast, reads, monkeypatch):
    file(cast, "Първа")

    def broken(keys, version=None):
        raise ConnectionError("cache away")

    monkeypatch.setattr(caches["default"], "get_many", broken)
    reads.clear()
    ticket = file(cast, "Втора")
    assert ticket.pk
    assert {key for kind, key in reads if kind == "get"} >= FLAGS
