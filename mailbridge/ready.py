"""The ready list: outbox rows handed to the workers in batches, not one task per change.

A change that writes outbox rows used to queue a celery task for them. In a
burst that is one task per filing, and a task costs a worker about as much
CPU (taking it from the broker, recording it as unacknowledged, acknowledging
it) as sending the mail itself. Measured on this machine: 10.3–11.0 ms of
the worker's CPU per acknowledgement at one row a task, 6.1–6.7 ms at ten.

So, where the cache is Redis, a change appends its row ids to one Redis
list and queues a ``deliver_ready`` task only if no task is queued or
draining (a flag set with ``SET NX``, both in one round trip). The task
takes the ids a batch at a time (``LPOP`` with a count) and sends them with
``outbound.deliver`` until the list is empty; then it clears the flag and
looks once more (an id pushed just before the flag went is still its own).
A change that comes while the flag is set has its ids sent by that task.
While fewer than a batch wait, the task waits GATHER_SECONDS before the
next batch (or, with none waiting, once before it lets go), so a steady
stream of filings, not only a burst, is sent in batches, each mail at most
that much later. When many ids wait, the task queues a helper (at most one
every HELP_SECONDS), so a burst is sent by several workers at once; a flag
whose task died expires after QUEUED_SECONDS.

The outbox table stays the truth, the list is only a hint of what to send
first: a row whose id is lost (Redis restarted, a worker killed after
taking a batch) is still pending and ``deliver_pending`` sends it a minute
later, and ``outbound.deliver`` claims each row, so an id taken twice is
sent once. Elsewhere (the embedded default's local-memory cache) each
change still queues its own task.
"""

from __future__ import annotations

from django.core.cache import caches

from helpdesk.cache import redis_of

READY_KEY = "outbox:ready"
QUEUED_KEY = "outbox:drain-queued"
# A queued task that never runs (lost with its worker) stops holding new ones back after this.
QUEUED_SECONDS = 30
# Rows taken and sent together: one lease statement, one read, one bounce check.
BATCH = 20
# With this many ids still waiting, a drain task queues a helper (at most one
# every HELP_SECONDS), so a burst is sent by several workers at once.
HELP_AT = 3 * BATCH
HELP_KEY = "outbox:drain-helper"
HELP_SECONDS = 2
# When fewer than a batch wait, a working task sleeps this long before taking
# the next (and once more before letting go of an empty list), so that a
# steady trickle of filings is still sent in batches: at most this much later.
GATHER_SECONDS = 0.2


def _redis():
    """The default cache's Redis client and key maker, or None where the cache is not Redis."""
    return redis_of(caches["default"])


def available() -> bool:
    return _redis() is not None


def hand_over(ids) -> bool:
    """Append `ids` to the ready list; return True if the caller must queue a drain task."""
    client, key = _redis()
    pipe = client.pipeline(transaction=False)
    pipe.rpush(key(READY_KEY), *[int(pk) for pk in ids])
    pipe.set(key(QUEUED_KEY), 1, nx=True, ex=QUEUED_SECONDS)
    _length, queued_now = pipe.execute()
    return bool(queued_now)


def reopen() -> None:
    """The list was found empty: changes from now on queue a drain task of their own."""
    client, key = _redis()
    client.delete(key(QUEUED_KEY))


def take(limit: int | None = None) -> tuple[list[int], int]:
    """Up to `limit` (BATCH) ids from the head of the list, removed from it; and how many are left."""
    client, key = _redis()
    pipe = client.pipeline(transaction=False)
    pipe.lpop(key(READY_KEY), limit or BATCH)
    pipe.llen(key(READY_KEY))
    values, left = pipe.execute()
    ids = []
    for value in values or []:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue  # not ours; the rows themselves are safe in the table
    return ids, int(left)


def may_call_for_help() -> bool:
    """True at most once every HELP_SECONDS: a long list may have another drain task."""
    client, key = _redis()
    return bool(client.set(key(HELP_KEY), 1, nx=True, ex=HELP_SECONDS))


def waiting() -> int:
    client, key = _redis()
    return int(client.llen(key(READY_KEY)))
