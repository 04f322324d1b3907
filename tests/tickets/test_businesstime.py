"""Table-driven tests of the SLA clock (tickets.businesstime); no database.

Times in the tables are Sofia wall-clock times: EET (UTC+2) in winter, EEST
(UTC+3) from the last Sunday of March to the last Sunday of October. Working
hours are 09:00-17:30, so a working day holds 8.5 hours.
"""

import re
import time as clock
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from tickets.businesstime import (
    WorkCalendar,
    add_business_seconds,
    business_seconds_between,
    due_with_pauses,
    elapsed_with_pauses,
    public_holidays,
)

SOFIA = ZoneInfo("Europe/Sofia")
HOUR = 3600
DAY = 8.5 * HOUR  # one full working day

CAL = WorkCalendar()


def at(y, mo, d, h=9, mi=0, s=0, us=0):
    """Return a Sofia wall-clock instant."""
    return datetime(y, mo, d, h, mi, s, us, tzinfo=SOFIA)


# (id, start, seconds, expected due)
ADD_CASES = [
    ("same day", at(2026, 1, 14, 10), HOUR, at(2026, 1, 14, 11)),
    ("overnight", at(2026, 1, 14, 17), HOUR, at(2026, 1, 15, 9, 30)),
    ("friday to monday", at(2026, 1, 16, 17), HOUR, at(2026, 1, 19, 9, 30)),
    ("start on saturday", at(2026, 1, 17, 12), HOUR, at(2026, 1, 19, 10)),
    ("start on sunday night", at(2026, 1, 18, 23, 59), HOUR, at(2026, 1, 19, 10)),
    ("start before opening", at(2026, 1, 14, 7), HOUR, at(2026, 1, 14, 10)),
    ("start after closing", at(2026, 1, 14, 20), HOUR, at(2026, 1, 15, 10)),
    ("start exactly at closing", at(2026, 1, 14, 17, 30), HOUR, at(2026, 1, 15, 10)),
    ("ends exactly at closing", at(2026, 1, 14, 9), DAY, at(2026, 1, 14, 17, 30)),
    ("a day and a bit", at(2026, 1, 14, 9), DAY + 60, at(2026, 1, 15, 9, 1)),
    ("full week", at(2026, 1, 12, 9), 5 * DAY, at(2026, 1, 16, 17, 30)),
    ("zero inside hours", at(2026, 1, 14, 10, 15), 0, at(2026, 1, 14, 10, 15)),
    ("zero on saturday", at(2026, 1, 17, 12), 0, at(2026, 1, 19, 9)),
    ("zero at closing", at(2026, 1, 14, 17, 30), 0, at(2026, 1, 15, 9)),
    ("fraction of a second", at(2026, 1, 14, 10), 0.5, at(2026, 1, 14, 10, 0, 0, 500000)),
    # Holidays 2025
    ("liberation day 2025 mon", at(2025, 2, 28, 17), HOUR, at(2025, 3, 4, 9, 30)),
    ("easter 2025", at(2025, 4, 17, 17), HOUR, at(2025, 4, 22, 9, 30)),
    ("6 sep 2025 sat observed mon", at(2025, 9, 5, 17), HOUR, at(2025, 9, 9, 9, 30)),
    ("22 sep 2025 mon", at(2025, 9, 19, 17), HOUR, at(2025, 9, 23, 9, 30)),
    ("24 may 2025 sat observed mon", at(2025, 5, 23, 17), HOUR, at(2025, 5, 27, 9, 30)),
    # New year 2026: 31 Dec 2025 and 2 Jan 2026 were declared non-working days.
    ("new year 2026 bridge", at(2025, 12, 30, 17), HOUR, at(2026, 1, 5, 9, 30)),
    # Holidays 2026
    ("liberation day 2026 tue", at(2026, 3, 2, 17), HOUR, at(2026, 3, 4, 9, 30)),
    ("good friday to easter monday 2026", at(2026, 4, 9, 17), HOUR, at(2026, 4, 14, 9, 30)),
    ("start on easter monday 2026", at(2026, 4, 13, 11), HOUR, at(2026, 4, 14, 10)),
    ("1 may 2026 fri", at(2026, 4, 30, 17), HOUR, at(2026, 5, 4, 9, 30)),
    ("6 may 2026 wed", at(2026, 5, 5, 17), HOUR, at(2026, 5, 7, 9, 30)),
    ("24 may 2026 sun observed mon", at(2026, 5, 22, 17), HOUR, at(2026, 5, 26, 9, 30)),
    ("6 sep 2026 sun observed mon", at(2026, 9, 4, 17), HOUR, at(2026, 9, 8, 9, 30)),
    ("22 sep 2026 tue", at(2026, 9, 21, 17), HOUR, at(2026, 9, 23, 9, 30)),
    ("christmas 2026 observed mon 28", at(2026, 12, 23, 17), HOUR, at(2026, 12, 29, 9, 30)),
    # Holidays 2027
    ("new year 2027 fri", at(2026, 12, 31, 17), HOUR, at(2027, 1, 4, 9, 30)),
    ("3 mar 2027 wed", at(2027, 3, 2, 17), HOUR, at(2027, 3, 4, 9, 30)),
    ("easter 2027 with 1 may on sat", at(2027, 4, 29, 17), HOUR, at(2027, 5, 5, 9, 30)),
    ("6 may 2027 thu", at(2027, 5, 5, 17), HOUR, at(2027, 5, 7, 9, 30)),
    ("24 may 2027 mon", at(2027, 5, 21, 17), HOUR, at(2027, 5, 25, 9, 30)),
    ("christmas 2027 two observed days", at(2027, 12, 23, 17), HOUR, at(2027, 12, 29, 9, 30)),
    # Daylight saving time
    ("dst spring 2026 weekend", at(2026, 3, 27, 17), HOUR, at(2026, 3, 30, 9, 30)),
    ("dst spring 2026 from sunday", at(2026, 3, 29, 3, 30), HOUR, at(2026, 3, 30, 10)),
    ("dst autumn 2026 weekend", at(2026, 10, 23, 17), HOUR, at(2026, 10, 26, 9, 30)),
    ("dst autumn 2026 full days", at(2026, 10, 22, 9), 3 * DAY, at(2026, 10, 26, 17, 30)),
    # Large targets
    ("1000 business hours", at(2026, 1, 5, 9), 1000 * HOUR, at(2026, 6, 25, 14, 30)),
]


@pytest.mark.parametrize(
    ("start", "seconds", "expected"),
    [case[1:] for case in ADD_CASES],
    ids=[case[0] for case in ADD_CASES],
)
def test_add_business_seconds(start, seconds, expected):
    due = add_business_seconds(start, seconds, CAL)
    assert due == expected
    assert due.tzinfo is UTC


# (id, calendar options, start, seconds, expected due); each test builds its calendar
CALENDAR_CASES = [
    (
        "extra closed day",
        dict(extra_closed_days=frozenset({date(2026, 1, 15)})),
        at(2026, 1, 14, 17),
        HOUR,
        at(2026, 1, 16, 9, 30),
    ),
    (
        "extra open saturday",
        dict(extra_open_days=frozenset({date(2026, 1, 17)})),
        at(2026, 1, 16, 17),
        HOUR,
        at(2026, 1, 17, 9, 30),
    ),
    (
        "extra open day on a holiday",
        dict(extra_open_days={date(2026, 3, 3)}),
        at(2026, 3, 2, 17),
        HOUR,
        at(2026, 3, 3, 9, 30),
    ),
    (
        "closed wins over open",
        dict(
            extra_open_days={date(2026, 1, 17)},
            extra_closed_days={date(2026, 1, 17)},
        ),
        at(2026, 1, 16, 17),
        HOUR,
        at(2026, 1, 19, 9, 30),
    ),
    (
        "no holidays",
        dict(holiday_country=None),
        at(2026, 4, 9, 17),
        HOUR,
        at(2026, 4, 10, 9, 30),
    ),
    (
        "other hours and six-day week",
        dict(weekdays={0, 1, 2, 3, 4, 5}, day_start=time(8), day_end=time(12)),
        at(2026, 1, 16, 11),
        2 * HOUR,
        at(2026, 1, 17, 9),
    ),
    (
        "seven-day week",
        dict(weekdays=range(7), holiday_country=None),
        at(2026, 1, 17, 17),
        HOUR,
        at(2026, 1, 18, 9, 30),
    ),
    (
        "sunday only",
        dict(weekdays={6}, holiday_country=None),
        at(2026, 1, 14, 10),
        HOUR,
        at(2026, 1, 18, 10),
    ),
    (
        "utc calendar",
        dict(tz="UTC"),
        datetime(2026, 3, 27, 17, tzinfo=UTC),
        HOUR,
        datetime(2026, 3, 30, 9, 30, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(
    ("calendar_options", "start", "seconds", "expected"),
    [case[1:] for case in CALENDAR_CASES],
    ids=[case[0] for case in CALENDAR_CASES],
)
def test_add_business_seconds_other_calendars(calendar_options, start, seconds, expected):
    assert add_business_seconds(start, seconds, WorkCalendar(**calendar_options)) == expected


def test_dst_changes_utc_hours_not_working_hours():
    # Friday before the spring change closes 15:30 UTC, Monday after opens 06:00 UTC.
    assert add_business_seconds(at(2026, 3, 27, 17), HOUR, CAL) == datetime(
        2026, 3, 30, 6, 30, tzinfo=UTC
    )
    assert add_business_seconds(at(2026, 10, 23, 17), HOUR, CAL) == datetime(
        2026, 10, 26, 7, 30, tzinfo=UTC
    )


# (id, a, b, expected seconds)
BETWEEN_CASES = [
    ("same day", at(2026, 1, 14, 10), at(2026, 1, 14, 12), 2 * HOUR),
    ("equal", at(2026, 1, 14, 10), at(2026, 1, 14, 10), 0),
    ("reversed", at(2026, 1, 14, 12), at(2026, 1, 14, 10), 0),
    ("night only", at(2026, 1, 14, 18), at(2026, 1, 15, 8), 0),
    ("weekend only", at(2026, 1, 17, 9), at(2026, 1, 18, 17), 0),
    ("friday to monday", at(2026, 1, 16, 17), at(2026, 1, 19, 10), 1.5 * HOUR),
    ("whole week", at(2026, 1, 12, 9), at(2026, 1, 19, 9), 5 * DAY),
    ("over easter 2026", at(2026, 4, 9, 17), at(2026, 4, 14, 10), 1.5 * HOUR),
    ("over christmas 2027", at(2027, 12, 23, 9), at(2027, 12, 29, 17, 30), 2 * DAY),
    ("over dst spring", at(2026, 3, 27, 9), at(2026, 3, 30, 17, 30), 2 * DAY),
    ("over dst autumn", at(2026, 10, 23, 9), at(2026, 10, 26, 17, 30), 2 * DAY),
    (
        "utc inputs",
        datetime(2026, 7, 1, 6, tzinfo=UTC),  # 09:00 EEST
        datetime(2026, 7, 1, 14, 30, tzinfo=UTC),  # 17:30 EEST
        DAY,
    ),
    ("from the night into the day", at(2026, 1, 14, 3), at(2026, 1, 14, 9, 45), 45 * 60),
]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [case[1:] for case in BETWEEN_CASES],
    ids=[case[0] for case in BETWEEN_CASES],
)
def test_business_seconds_between(a, b, expected):
    assert business_seconds_between(a, b, CAL) == expected


@pytest.mark.parametrize(
    ("start", "seconds", "expected"),
    [case[1:] for case in ADD_CASES if case[1] == add_business_seconds(case[1], 0, CAL)],
    ids=[case[0] for case in ADD_CASES if case[1] == add_business_seconds(case[1], 0, CAL)],
)
def test_between_inverts_add_from_working_time(start, seconds, expected):
    assert business_seconds_between(start, expected, CAL) == pytest.approx(seconds)


def test_large_targets_are_fast():
    start = at(2026, 1, 5, 9)
    public_holidays("BG", 2026)  # warm the holiday cache outside the timing
    began = clock.perf_counter()
    due = add_business_seconds(start, 10_000 * HOUR, CAL)
    spent = business_seconds_between(start, due, CAL)
    assert clock.perf_counter() - began < 2.0
    assert spent == 10_000 * HOUR


def test_matches_a_minute_by_minute_walk():
    # A slow but obvious reference: step minute by minute in Sofia time.
    def walk(start, minutes):
        cursor = start.astimezone(UTC)
        while True:
            local = cursor.astimezone(SOFIA)
            if CAL.is_working_day(local.date()) and time(9) <= local.time() < time(17, 30):
                minutes -= 1
                if minutes == 0:
                    return cursor + timedelta(minutes=1)
            cursor += timedelta(minutes=1)

    for start in (at(2026, 3, 26, 16), at(2026, 10, 22, 12), at(2026, 12, 22, 10)):
        for minutes in (1, 30, 510, 1000, 2500):
            assert add_business_seconds(start, minutes * 60, CAL) == walk(start, minutes)


# --- pauses ------------------------------------------------------------------

MON = (2026, 1, 12)  # an ordinary Monday


def mon(h, mi=0):
    return at(*MON, h, mi)


def tue(h, mi=0):
    return at(2026, 1, 13, h, mi)


# (id, start, target seconds, pauses, expected due or None)
PAUSE_CASES = [
    ("no pauses", mon(9), 4 * HOUR, [], mon(13)),
    ("start inside hours", mon(10, 15), HOUR, [(mon(12), mon(13))], mon(11, 15)),
    ("one hour pause", mon(9), 4 * HOUR, [(mon(10), mon(11))], mon(14)),
    ("pause over the night", mon(9), 8 * HOUR, [(mon(16), tue(10))], tue(11)),
    ("open pause stops the clock", mon(9), 4 * HOUR, [(mon(10), None)], None),
    ("breach before open pause stays", mon(9), HOUR, [(mon(12), None)], mon(10)),
    (
        "open pause after a closed one",
        mon(9),
        4 * HOUR,
        [(mon(10), mon(11)), (mon(12), None)],
        None,
    ),
    (
        "pause on the weekend has no effect",
        mon(9),
        40 * HOUR,
        [(at(2026, 1, 17, 10), at(2026, 1, 18, 10))],
        at(2026, 1, 16, 15),
    ),
    (
        "pause before start ignored",
        mon(9),
        HOUR,
        [(at(2026, 1, 9, 10), at(2026, 1, 9, 12))],
        mon(10),
    ),
    ("pause straddling start clipped", mon(10), HOUR, [(mon(9), mon(11))], mon(12)),
    (
        "overlapping pauses merged",
        mon(9),
        2 * HOUR,
        [(mon(10), mon(12)), (mon(11), mon(13))],
        mon(14),
    ),
    ("pauses in any order", mon(9), 2 * HOUR, [(mon(14), mon(15)), (mon(10), mon(11))], mon(12)),
    ("target used up exactly at pause", mon(9), HOUR, [(mon(10), mon(15))], mon(10)),
    ("zero target", mon(9), 0, [(mon(10), mon(11))], mon(9)),
    ("zero target with pause at start", mon(9), 0, [(mon(9), mon(10))], mon(10)),
    ("zero target during pause", mon(10), 0, [(mon(9), mon(11))], mon(11)),
    # Before opening the clock has nothing to count: a zero target waits for
    # the first working minute after the pause, not the opening inside it.
    ("zero target before a pause at opening", mon(8), 0, [(mon(8, 30), mon(10))], mon(10)),
    ("zero-length pause changes nothing", mon(9), 2 * HOUR, [(mon(10), mon(10))], mon(11)),
    ("due at the end of a pause", mon(9), HOUR, [(mon(9), mon(10))], mon(11)),
    ("earlier of two open pauses", mon(9), HOUR, [(mon(12), None), (mon(9, 30), None)], None),
    ("before the earlier open pause", mon(9), HOUR, [(mon(12), None), (mon(10), None)], mon(10)),
    (
        "closed pause running into an open one",
        mon(9),
        90 * 60,
        [(mon(10), mon(12)), (mon(11), None)],
        None,
    ),
    ("long pause into next day", mon(9), HOUR, [(mon(9, 30), tue(12))], tue(12, 30)),
    (
        "pause over easter 2026",
        at(2026, 4, 9, 9),
        DAY + HOUR,
        [(at(2026, 4, 9, 12), at(2026, 4, 14, 9))],
        at(2026, 4, 14, 15, 30),
    ),
]


@pytest.mark.parametrize(
    ("start", "target", "pauses", "expected"),
    [case[1:] for case in PAUSE_CASES],
    ids=[case[0] for case in PAUSE_CASES],
)
def test_due_with_pauses(start, target, pauses, expected):
    due = due_with_pauses(start, target, pauses, CAL)
    assert due == expected
    assert due is None or due.tzinfo is UTC


# (id, start, now, pauses, expected elapsed seconds)
ELAPSED_CASES = [
    ("no pauses", mon(9), mon(15), [], 6 * HOUR),
    ("closed pause", mon(9), mon(15), [(mon(10), mon(11))], 5 * HOUR),
    ("open pause", mon(9), mon(15), [(mon(13), None)], 4 * HOUR),
    ("pause not over yet at now", mon(9), mon(15), [(mon(14), tue(10))], 5 * HOUR),
    ("pause after now", mon(9), mon(15), [(mon(16), mon(17))], 6 * HOUR),
    ("overlapping pauses", mon(9), mon(15), [(mon(10), mon(12)), (mon(11), mon(13))], 3 * HOUR),
    ("over the night", mon(9), tue(11), [(mon(17), tue(10))], 9 * HOUR),
    ("now before start", mon(12), mon(10), [], 0),
    ("now equals start", mon(12), mon(12), [(mon(9), None)], 0),
    ("earlier of two open pauses", mon(9), mon(15), [(mon(12), None), (mon(10), None)], HOUR),
    ("open pause listed first", mon(9), mon(15), [(mon(13), None), (mon(10), mon(11))], 3 * HOUR),
    (
        "closed pause after an open one",
        mon(9),
        mon(15),
        [(mon(10), None), (mon(12), mon(13))],
        HOUR,
    ),
    ("closed pause into an open one", mon(9), mon(15), [(mon(10), mon(12)), (mon(11), None)], HOUR),
    ("pause before start", mon(12), mon(15), [(mon(9), mon(10))], 3 * HOUR),
    ("adjacent pauses", mon(9), mon(15), [(mon(10), mon(11)), (mon(11), mon(12))], 4 * HOUR),
    ("utc inputs", mon(9).astimezone(UTC), mon(15).astimezone(UTC), [(mon(10), None)], HOUR),
]


@pytest.mark.parametrize(
    ("start", "now", "pauses", "expected"),
    [case[1:] for case in ELAPSED_CASES],
    ids=[case[0] for case in ELAPSED_CASES],
)
def test_elapsed_with_pauses(start, now, pauses, expected):
    assert elapsed_with_pauses(start, now, pauses, CAL) == expected


def test_due_and_elapsed_agree():
    pauses = [(mon(10), mon(11)), (tue(16), at(2026, 1, 14, 12))]
    due = due_with_pauses(mon(9), 12 * HOUR, pauses, CAL)
    assert elapsed_with_pauses(mon(9), due, pauses, CAL) == 12 * HOUR


# --- the calendar ------------------------------------------------------------

# (id, day, working?)
DAY_CASES = [
    ("ordinary wednesday", date(2026, 1, 14), True),
    ("saturday", date(2026, 1, 17), False),
    ("new year 2025", date(2025, 1, 1), False),
    ("orthodox easter 2026 sunday", date(2026, 4, 12), False),
    ("easter monday 2026", date(2026, 4, 13), False),
    ("good friday 2026", date(2026, 4, 10), False),
    ("tuesday after easter 2026", date(2026, 4, 14), True),
    ("1 may 2025", date(2025, 5, 1), False),
    ("6 may 2027", date(2027, 5, 6), False),
    ("24 may 2026 observed", date(2026, 5, 25), False),
    ("6 sep 2026 observed", date(2026, 9, 7), False),
    ("22 sep 2027", date(2027, 9, 22), False),
    ("24 dec 2025", date(2025, 12, 24), False),
    ("26 dec 2025", date(2025, 12, 26), False),
    ("3 mar 2027", date(2027, 3, 3), False),
    ("29 dec 2025 ordinary monday", date(2025, 12, 29), True),
]


@pytest.mark.parametrize(
    ("day", "working"),
    [case[1:] for case in DAY_CASES],
    ids=[case[0] for case in DAY_CASES],
)
def test_is_working_day(day, working):
    assert CAL.is_working_day(day) is working


def test_calendar_is_hashable_and_accepts_plain_sets():
    cal = WorkCalendar(extra_closed_days={date(2026, 1, 15)}, weekdays=[0, 1, 2])
    assert isinstance(cal.extra_closed_days, frozenset)
    assert hash(cal) == hash(
        WorkCalendar(extra_closed_days=[date(2026, 1, 15)], weekdays={0, 1, 2})
    )


class NoOffset(tzinfo):
    """A time zone that knows no offset: datetimes in it count as naive."""

    def utcoffset(self, dt):
        return None


NAIVE = datetime(2026, 1, 14, 10)
NO_OFFSET = datetime(2026, 1, 14, 10, tzinfo=NoOffset())
NAIVE_MESSAGE = f"naive datetime {NAIVE!r}: pass a timezone-aware datetime"
NO_OFFSET_MESSAGE = f"naive datetime {NO_OFFSET!r}: pass a timezone-aware datetime"
NO_WORKING_DAYS = "the calendar has no working days"

# (id, call, the whole error message)
BAD_INPUT_CASES = [
    ("naive start", lambda: add_business_seconds(NAIVE, HOUR, CAL), NAIVE_MESSAGE),
    ("no offset", lambda: add_business_seconds(NO_OFFSET, HOUR, CAL), NO_OFFSET_MESSAGE),
    (
        "negative seconds",
        lambda: add_business_seconds(mon(9), -1, CAL),
        "seconds must not be negative",
    ),
    ("naive end", lambda: business_seconds_between(mon(9), NAIVE, CAL), NAIVE_MESSAGE),
    ("naive first", lambda: business_seconds_between(NAIVE, mon(9), CAL), NAIVE_MESSAGE),
    ("naive due start", lambda: due_with_pauses(NAIVE, HOUR, [], CAL), NAIVE_MESSAGE),
    ("naive elapsed start", lambda: elapsed_with_pauses(NAIVE, mon(9), [], CAL), NAIVE_MESSAGE),
    ("naive elapsed now", lambda: elapsed_with_pauses(mon(9), NAIVE, [], CAL), NAIVE_MESSAGE),
    (
        "naive pause begin",
        lambda: due_with_pauses(mon(9), HOUR, [(NAIVE, None)], CAL),
        NAIVE_MESSAGE,
    ),
    (
        "naive pause end",
        lambda: elapsed_with_pauses(mon(9), mon(15), [(mon(10), NAIVE)], CAL),
        NAIVE_MESSAGE,
    ),
    (
        "pause ends before it begins",
        lambda: due_with_pauses(mon(9), HOUR, [(mon(12), mon(11))], CAL),
        "pause ends before it begins: 2026-01-12 12:00:00+02:00 > 2026-01-12 11:00:00+02:00",
    ),
    (
        "negative target with pauses",
        lambda: due_with_pauses(mon(9), -1, [], CAL),
        "seconds must not be negative",
    ),
    (
        "day ends before it starts",
        lambda: WorkCalendar(day_start=time(18), day_end=time(9)),
        "day_start must be earlier than day_end",
    ),
    (
        "day ends as it starts",
        lambda: WorkCalendar(day_start=time(9), day_end=time(9)),
        "day_start must be earlier than day_end",
    ),
    (
        "weekday after sunday",
        lambda: WorkCalendar(weekdays={7}),
        "weekdays must be numbers 0 (Monday) to 6 (Sunday)",
    ),
    (
        "weekday before monday",
        lambda: WorkCalendar(weekdays={-1, 0}),
        "weekdays must be numbers 0 (Monday) to 6 (Sunday)",
    ),
    (
        "unknown zone",
        lambda: WorkCalendar(tz="Europe/Nowhere"),
        "unknown time zone 'Europe/Nowhere'",
    ),
    ("malformed zone", lambda: WorkCalendar(tz="../etc"), "unknown time zone '../etc'"),
    (
        "calendar without working days",
        lambda: add_business_seconds(mon(9), HOUR, WorkCalendar(weekdays=set())),
        NO_WORKING_DAYS,
    ),
]


def raises_exactly(message):
    """Expect a ValueError with exactly this message."""
    return pytest.raises(ValueError, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize(
    ("make", "message"),
    [case[1:] for case in BAD_INPUT_CASES],
    ids=[case[0] for case in BAD_INPUT_CASES],
)
def test_bad_input_raises(make, message):
    with raises_exactly(message):
        make()


# --- a calendar with long closures --------------------------------------------
#
# A calendar that finds no working day for 3 * 366 days in a row has none at
# all. Closures up to that length still work.

LONGEST_CLOSURE = 3 * 366
FIRST = date(2026, 1, 5)


def only_open_on(*days):
    return WorkCalendar(weekdays=set(), holiday_country=None, extra_open_days=set(days))


def test_the_longest_closure_from_the_start_is_waited_out():
    reopens = FIRST + timedelta(days=LONGEST_CLOSURE)
    cal = only_open_on(reopens)
    due = add_business_seconds(at(2026, 1, 5, 10), HOUR, cal)
    assert due == datetime.combine(reopens, time(10), tzinfo=SOFIA)


def test_the_longest_closure_after_a_working_day_is_waited_out():
    reopens = FIRST + timedelta(days=LONGEST_CLOSURE + 1)
    cal = only_open_on(FIRST, reopens)
    due = add_business_seconds(at(2026, 1, 5, 17, 30), HOUR, cal)
    assert due == datetime.combine(reopens, time(10), tzinfo=SOFIA)


@pytest.mark.parametrize("working_first", [False, True])
def test_one_closed_day_more_means_no_working_days(working_first):
    reopens = FIRST + timedelta(days=LONGEST_CLOSURE + 1 + working_first)
    cal = only_open_on(reopens, *([FIRST] if working_first else []))
    with raises_exactly(NO_WORKING_DAYS):
        add_business_seconds(at(2026, 1, 5, 17, 30), HOUR, cal)


def test_nothing_to_count_between_equal_or_reversed_instants_even_without_working_days():
    closed = WorkCalendar(weekdays=set())
    assert business_seconds_between(mon(10), mon(10), closed) == 0
    assert business_seconds_between(mon(12), mon(10), closed) == 0
    assert elapsed_with_pauses(mon(10), mon(10), [], closed) == 0


# --- the server's own time zone does not matter ---------------------------------


@pytest.fixture(params=["Pacific/Kiritimati", "Etc/GMT+12"])
def server_zone(request, monkeypatch):
    """Run the test with the process in a far-off local time zone (UTC+14, UTC-12)."""
    monkeypatch.setenv("TZ", request.param)
    clock.tzset()
    yield request.param
    monkeypatch.undo()
    clock.tzset()


def test_the_server_time_zone_changes_nothing(server_zone):
    # 17:00 on a Monday in Sofia is already Tuesday in Kiritimati.
    due = add_business_seconds(at(2026, 1, 12, 17), HOUR, CAL)
    assert (due, due.tzinfo) == (at(2026, 1, 13, 9, 30), UTC)
    due = due_with_pauses(mon(9), HOUR, [(mon(9, 30), mon(10))], CAL)
    assert (due, due.tzinfo) == (mon(10, 30), UTC)
    due = due_with_pauses(mon(10, 15), HOUR, [], CAL)
    assert (due, due.tzinfo) == (mon(11, 15), UTC)
    assert business_seconds_between(at(2026, 1, 12, 17), at(2026, 1, 13, 10), CAL) == 1.5 * HOUR
    assert elapsed_with_pauses(mon(9), mon(15), [(mon(10), mon(11))], CAL) == 5 * HOUR


# (id, day, expected (opens, closes) in UTC or None)
OPENING_CASES = [
    (
        "winter",
        date(2026, 1, 14),
        (datetime(2026, 1, 14, 7, tzinfo=UTC), datetime(2026, 1, 14, 15, 30, tzinfo=UTC)),
    ),
    (
        "summer",
        date(2026, 7, 1),
        (datetime(2026, 7, 1, 6, tzinfo=UTC), datetime(2026, 7, 1, 14, 30, tzinfo=UTC)),
    ),
    ("saturday", date(2026, 1, 17), None),
    ("holiday", date(2026, 3, 3), None),
]


@pytest.mark.parametrize(
    ("day", "expected"),
    [case[1:] for case in OPENING_CASES],
    ids=[case[0] for case in OPENING_CASES],
)
def test_opening_hours_are_utc_instants(server_zone, day, expected):
    hours = CAL.opening_hours(day)
    assert hours == expected
    assert hours is None or all(moment.tzinfo is UTC for moment in hours)
