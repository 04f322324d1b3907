"""Moments from outside: only those the database can hold get through, in UTC."""

import datetime

import pytest
from django import forms

from helpdesk.bounds import BoundedDateTimeField, parse_bounded_datetime

UTC = datetime.UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T09:30:00Z", datetime.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        ("2026-03-02T11:30:00+02:00", datetime.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)),
        ("2026-03-02T23:30:00-14:00", datetime.datetime(2026, 3, 3, 13, 30, tzinfo=UTC)),
        ("1990-01-01T12:00:00Z", datetime.datetime(1990, 1, 1, 12, tzinfo=UTC)),
    ],
)
def test_moments_in_range_come_back_in_utc(text, expected):
    value = parse_bounded_datetime(text)
    assert value == expected and value.utcoffset() == datetime.timedelta(0)


def test_a_naive_moment_is_read_in_the_helpdesks_time_zone(settings):
    settings.TIME_ZONE = "Europe/Sofia"
    assert parse_bounded_datetime("2026-07-01T12:00:00") == datetime.datetime(
        2026, 7, 1, 9, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text",
    [
        "2020-01-01T00:00:00+23:59",  # an offset PostgreSQL refuses
        "2020-01-01T00:00:00+14:01",
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after 9999 in UTC
        "1989-12-31T23:59:59Z",
        "2101-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "вчера",
        "2026-01-01T00:00:00Z" + " " * 60,
        "",
        None,
        17,
    ],
)
def test_moments_the_helpdesk_cannot_hold_are_none(text):
    assert parse_bounded_datetime(text) is None


def test_the_form_field_explains_what_it_wants():
    field = BoundedDateTimeField(required=False)
    assert field.clean("") is None
    assert field.clean("2026-03-02T09:30:00Z") == datetime.datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    with pytest.raises(forms.ValidationError) as error:
        field.clean("2020-01-01T00:00:00+23:59")
    assert error.value.code == "invalid"
