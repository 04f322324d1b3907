"""Limits on how fast requests can be filed, per person and per institution.

Counters live in the cache (local memory or Redis), one per clock hour. The
limit looks at a sliding hour: this hour's count plus the part of the last
hour's count that still falls inside the window. That keeps a burst at the
turn of the hour from doubling the limit, at the cost of two cache keys.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from accounts.permissions import is_agent
from helpdesk.cache import count_up
from helpdesk.errors import RateLimited

WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class Window:
    """Counts of one key in the current and the previous clock hour."""

    current: int
    previous: int
    elapsed: float  # fraction of the current hour already gone, 0..1


def estimated_count(window: Window) -> float:
    """Return the number of hits in the sliding hour that ends now."""
    return window.current + window.previous * (1.0 - window.elapsed)


def seconds_until_allowed(window: Window, limit: int) -> int:
    """Return how long until one more hit fits under `limit` (0 if it fits now)."""
    if estimated_count(window) + 1 <= limit:
        return 0
    # The previous hour's weight shrinks linearly over the current hour, so
    # one more hit fits once elapsed >= 1 - (room left) / previous.
    if window.current + 1 <= limit:
        needed = 1.0 - (limit - 1 - window.current) / window.previous
        return max(1, math.ceil((needed - window.elapsed) * WINDOW_SECONDS))
    # The current hour alone is full: wait for it to end, then for its weight
    # (as the next hour's "previous") to shrink far enough.
    needed_next = max(0.0, 1.0 - (limit - 1) / window.current)
    return max(1, math.ceil((1.0 - window.elapsed + needed_next) * WINDOW_SECONDS))


def _bucket(now: float) -> tuple[int, float]:
    bucket = int(now // WINDOW_SECONDS)
    return bucket, (now - bucket * WINDOW_SECONDS) / WINDOW_SECONDS


def _key(scope: str, ident, bucket: int) -> str:
    return f"hd:rate:file:{scope}:{ident}:{bucket}"


def _windows(scopes: list[tuple[str, object]], now: float) -> list[Window]:
    """The windows of several keys, read from the cache in one round trip."""
    bucket, elapsed = _bucket(now)
    keys = [(_key(s, i, bucket), _key(s, i, bucket - 1)) for s, i in scopes]
    values = cache.get_many([key for pair in keys for key in pair])
    return [
        Window(
            current=int(values.get(current, 0)),
            previous=int(values.get(previous, 0)),
            elapsed=elapsed,
        )
        for current, previous in keys
    ]


def _limits(user, institution_id) -> list[tuple[str, object, int]]:
    rules = settings.HELPDESK
    limits = [("person", user.pk, rules["RATE_PER_PERSON_HOUR"])]
    if institution_id is not None:
        limits.append(("institution", institution_id, rules["RATE_PER_INSTITUTION_HOUR"]))
    return limits


def check_filing_allowed(user, institution_id: int | None, *, now: float | None = None) -> None:
    """Raise RateLimited when `user` (or the institution) filed too much in the last hour.

    The exception carries `retry_after` in seconds and a message for people.
    """
    if is_agent(user):
        # Support staff file on behalf of callers; their own queues are the brake.
        return
    now = time.time() if now is None else now
    limits = _limits(user, institution_id)
    windows = _windows([(scope, ident) for scope, ident, _limit in limits], now)
    for (scope, _ident, limit), window in zip(limits, windows, strict=True):
        wait = seconds_until_allowed(window, limit)
        if wait:
            minutes = max(1, math.ceil(wait / 60))
            if scope == "person":
                text = _(
                    "You have filed %(limit)s requests in the last hour, which is the limit. "
                    "Please try again in about %(minutes)s min. Nothing you typed was lost."
                ) % {"limit": limit, "minutes": minutes}
            else:
                text = _(
                    "Your institution has filed %(limit)s requests in the last hour, which is "
                    "the limit. Please try again in about %(minutes)s min. Nothing you typed "
                    "was lost."
                ) % {"limit": limit, "minutes": minutes}
            error = RateLimited(text)
            error.retry_after = wait
            raise error


def record_filing(user, institution_id: int | None, *, now: float | None = None) -> None:
    """Count one filed request for the person and the institution."""
    if is_agent(user):
        # Support staff file on behalf of callers; their own queues are the brake.
        return
    now = time.time() if now is None else now
    bucket, _elapsed = _bucket(now)
    # Kept for two windows: the next hour still weighs this one.
    lifetime = 2 * WINDOW_SECONDS + 60
    # Both counters (person, institution) in one round trip to Redis.
    count_up(
        cache,
        [_key(scope, ident, bucket) for scope, ident, _limit in _limits(user, institution_id)],
        lifetime,
    )
