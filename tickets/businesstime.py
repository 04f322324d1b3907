"""The SLA clock: working time on a calendar of business days and hours.

Pure functions over plain data. A `WorkCalendar` says which days are working
days (weekdays minus Bulgarian public holidays, adjusted by admin-defined
closed and open days) and the opening hours in a local time zone. The
functions count working time between instants and find when a target amount
of working time has elapsed, optionally with the clock paused (for example
while a ticket waits on its requester).

All instants must be timezone-aware; results are aware datetimes in UTC.
Opening and closing times are applied in the calendar's zone for each day, so
daylight-saving changes move the UTC hours without changing the working hours.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

# If a calendar yields no working day for this long, it has none at all; stop
# instead of looping for ever.
_MAX_CLOSED_STREAK_DAYS = 3 * 366

Pause = tuple[datetime, datetime | None]


@functools.lru_cache(maxsize=256)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """Return the public holidays of `country` in `year`, observed days included.

    For Bulgaria the `holidays` library knows the movable Orthodox Easter
    (Good Friday to Easter Monday), moves a holiday falling on a weekend to the
    next working day, and lists the extra non-working days the government
    declares (such as 31 December 2025 and 2 January 2026).
    """
    return frozenset(holidays.country_holidays(country, years=year, observed=True).keys())


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and hours of a support desk."""

    tz: str = "Europe/Sofia"
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday is 0
    day_start: time = time(9, 0)
    day_end: time = time(17, 30)
    # Admin-defined days off; they win over everything else.
    extra_closed_days: frozenset[date] = field(default_factory=frozenset)
    # Working days that would otherwise be off, such as a working Saturday
    # declared to make up for a bridge holiday.
    extra_open_days: frozenset[date] = field(default_factory=frozenset)
    # Country whose public holidays are days off; None disables holidays.
    holiday_country: str | None = "BG"

    def __post_init__(self) -> None:
        # Accept any iterable (lists, sets) while keeping the calendar hashable.
        for name in ("weekdays", "extra_closed_days", "extra_open_days"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        if not self.day_start < self.day_end:
            raise ValueError("day_start must be earlier than day_end")
        if not all(0 <= d <= 6 for d in self.weekdays):
            raise ValueError("weekdays must be numbers 0 (Monday) to 6 (Sunday)")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc

    @property
    def zone(self) -> ZoneInfo:
        """Return the calendar's time zone."""
        return ZoneInfo(self.tz)

    def is_working_day(self, d: date) -> bool:
        """Return True if `d` is a working day on this calendar."""
        if d in self.extra_closed_days:
            return False
        if d in self.extra_open_days:
            return True
        if d.weekday() not in self.weekdays:
            return False
        return not (self.holiday_country and d in public_holidays(self.holiday_country, d.year))

    def opening_hours(self, d: date) -> tuple[datetime, datetime] | None:
        """Return the (opening, closing) UTC instants of day `d`, or None if it is off."""
        if not self.is_working_day(d):
            return None
        zone = self.zone
        opens = datetime.combine(d, self.day_start, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(d, self.day_end, tzinfo=zone).astimezone(UTC)
        return opens, closes


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware datetime")


def _working_intervals(start: datetime, cal: WorkCalendar) -> Iterator[tuple[datetime, datetime]]:
    """Yield the UTC working intervals that end after `start`, clipped to begin at it."""
    day = start.astimezone(cal.zone).date()
    closed_streak = 0
    while True:
        hours = cal.opening_hours(day)
        if hours is None:
            closed_streak += 1
            if closed_streak > _MAX_CLOSED_STREAK_DAYS:
                raise ValueError("the calendar has no working days")
        else:
            closed_streak = 0
            opens, closes = hours
            if closes > start:
                yield max(opens, start), closes
        day += timedelta(days=1)


def _as_timedelta(seconds: float) -> timedelta:
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    return timedelta(seconds=seconds)


def _add_working_time(start: datetime, amount: timedelta, cal: WorkCalendar) -> datetime:
    remaining = amount
    intervals = _working_intervals(start, cal)  # endless, or it raises
    while True:
        opens, closes = next(intervals)
        available = closes - opens
        if remaining <= available:
            return opens + remaining
        remaining -= available


def _working_time_between(a: datetime, b: datetime, cal: WorkCalendar) -> timedelta:
    total = timedelta(0)
    if b <= a:
        return total
    for opens, closes in _working_intervals(a, cal):
        if opens >= b:
            break
        total += min(closes, b) - opens
    return total


def add_business_seconds(start: datetime, seconds: float, cal: WorkCalendar) -> datetime:
    """Return the UTC instant when `seconds` of working time have elapsed after `start`.

    Counting begins at `start` if it lies within working hours, else at the
    next opening; so a zero target outside working hours gives the next
    opening. A target that is used up exactly at closing time gives the
    closing time, not the next opening.
    """
    _require_aware(start)
    return _add_working_time(start.astimezone(UTC), _as_timedelta(seconds), cal)


def business_seconds_between(a: datetime, b: datetime, cal: WorkCalendar) -> float:
    """Return the working seconds between `a` and `b`; 0.0 if `b` is not after `a`."""
    _require_aware(a, b)
    return _working_time_between(a, b, cal).total_seconds()


# The end of a pause that is still going on: after any instant the clock meets.
_FOREVER = datetime.max.replace(tzinfo=UTC)


def _running_segments(
    start: datetime, pauses: Iterable[Pause]
) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """Return the finite stretches after `start` when the clock runs, and where the last begins.

    The pauses may overlap, come in any order, begin before `start` or still
    be going on (end None). The last running stretch begins at the returned
    instant and never ends; it is None when a pause still going on stops the
    clock for good. Every stretch begins at `start` or at the end of a pause,
    so it is in UTC when `start` is.
    """
    stops: list[tuple[datetime, datetime]] = []
    for begin, end in pauses:
        _require_aware(begin)
        if end is None:
            end = _FOREVER
        else:
            _require_aware(end)
            if end < begin:
                raise ValueError(f"pause ends before it begins: {begin} > {end}")
        stops.append((max(begin, start), end.astimezone(UTC)))
    segments: list[tuple[datetime, datetime]] = []
    cursor = start
    for begin, end in sorted(stops):
        if begin > cursor:
            segments.append((cursor, begin))
        cursor = max(cursor, end)
    return segments, None if cursor == _FOREVER else cursor


def due_with_pauses(
    start: datetime,
    target_seconds: float,
    pauses: Sequence[Pause],
    cal: WorkCalendar,
) -> datetime | None:
    """Return the UTC due instant of a target of working seconds with the clock paused.

    `pauses` are (begin, end) intervals in any order, possibly overlapping;
    end None means the pause is still going on. Returns None while an open
    pause holds the clock, unless the target was already used up before that
    pause began: a breach that has happened stays at its instant.
    """
    _require_aware(start)
    start = start.astimezone(UTC)
    remaining = _as_timedelta(target_seconds)
    segments, tail_start = _running_segments(start, pauses)
    for begin, end in segments:
        worked = _working_time_between(begin, end, cal)
        # A segment with no working time cannot hold even a zero target: its
        # "next opening" would fall inside the following pause.
        if worked > timedelta(0) and remaining <= worked:
            return _add_working_time(begin, remaining, cal)
        remaining -= worked
    if tail_start is None:
        return None
    return _add_working_time(tail_start, remaining, cal)


def elapsed_with_pauses(
    start: datetime,
    now: datetime,
    pauses: Sequence[Pause],
    cal: WorkCalendar,
) -> float:
    """Return the working seconds from `start` to `now`, not counting the pauses.

    An open pause (end None) counts as lasting until `now`.
    """
    _require_aware(start, now)
    if now <= start:
        return 0.0
    segments, tail_start = _running_segments(start, pauses)
    if tail_start is not None:
        segments.append((tail_start, now))
    total = timedelta(0)
    for begin, end in segments:
        # Stretches after `now` count nothing: a span that ends before it begins is empty.
        total += _working_time_between(begin, min(end, now), cal)
    return total.total_seconds()
