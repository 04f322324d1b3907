"""Bounds for numbers and dates that arrive from outside: refused with a message, never a 500.

A date like 9999-12-31 is valid to a parser but overflows the first time a
day is added to it; an id of twenty digits is a valid integer but not a
database key. Everything read from a query string, a form or a path goes
through these before it reaches arithmetic or a query.
"""

import datetime

from django import forms
from django.urls import register_converter
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# Dates the helpdesk can hold: its history starts long after 1990 and no due
# time reaches 2100; both leave room for arithmetic on either side.
MIN_DATE = datetime.date(1990, 1, 1)
MAX_DATE = datetime.date(2100, 12, 31)
# Database keys are signed 64-bit integers.
MAX_ID = 2**63 - 1
ID_DIGITS = 18  # every number of up to 18 digits is below MAX_ID


class OutOfBounds(ValueError):
    """A value from outside is well formed but outside what the helpdesk accepts."""


def check_date(value: datetime.date) -> datetime.date:
    """Return `value`, or raise OutOfBounds with a message for people."""
    if not MIN_DATE <= value <= MAX_DATE:
        raise OutOfBounds(
            _("Choose a date between %(start)s and %(end)s.")
            % {"start": MIN_DATE.strftime("%d.%m.%Y"), "end": MAX_DATE.strftime("%d.%m.%Y")}
        )
    return value


def parse_bounded_date(text: str) -> datetime.date | None:
    """Parse YYYY-MM-DD; None when empty; OutOfBounds when malformed or out of range."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = parse_date(text)
    except ValueError:
        value = None
    if value is None:
        raise OutOfBounds(_("Enter a date as YYYY-MM-DD."))
    return check_date(value)


# Offsets a real place has had (UTC-12 to UTC+14); PostgreSQL refuses beyond ±15:59.
MAX_UTC_OFFSET = datetime.timedelta(hours=14)


def parse_bounded_datetime(text) -> datetime.datetime | None:
    """An ISO 8601 moment as an aware UTC datetime; None when malformed or out of range.

    A naive moment is read in the helpdesk's time zone. Offsets beyond ±14:00
    and years outside 1990–2100 are refused here, before a query can fail on
    them (a failed query aborts the request's transaction).
    """
    if not isinstance(text, str) or len(text) > 64:
        return None
    try:
        value = parse_datetime(text.strip())
    except ValueError:
        return None
    return check_datetime(value) if value is not None else None


def check_datetime(value: datetime.datetime) -> datetime.datetime | None:
    """`value` in UTC when the helpdesk can hold it, else None."""
    if timezone.is_naive(value):
        try:
            value = timezone.make_aware(value)
        except (ValueError, OverflowError):
            return None
    offset = value.utcoffset()
    if offset is None or abs(offset) > MAX_UTC_OFFSET:
        return None
    try:
        value = value.astimezone(datetime.UTC)
    except OverflowError:
        return None
    if not MIN_DATE <= value.date() <= MAX_DATE:
        return None
    return value


def parse_id(text) -> int | None:
    """Return a database id from text, or None when it is not one (too long, signed, empty)."""
    text = str(text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > ID_DIGITS:
        return None
    return int(text)


class BoundedDateField(forms.DateField):
    """A form date field that refuses dates the helpdesk cannot hold."""

    default_error_messages = {"bounds": gettext_lazy("Choose a date between 1990 and 2100.")}

    def validate(self, value):
        super().validate(value)
        if value is not None and not MIN_DATE <= value <= MAX_DATE:
            raise forms.ValidationError(self.error_messages["bounds"], code="bounds")


class BoundedDateTimeField(forms.Field):
    """An ISO 8601 moment within what the helpdesk can hold (see parse_bounded_datetime)."""

    default_error_messages = {
        "invalid": gettext_lazy(
            "Enter a moment as YYYY-MM-DDTHH:MM:SS±HH:MM between 1990 and 2100."
        )
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.datetime):
            parsed = check_datetime(value)
        else:
            parsed = parse_bounded_datetime(str(value))
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return parsed


class IdConverter:
    """Path converter for database ids: at most 18 digits, so a longer number is a 404."""

    regex = f"[0-9]{{1,{ID_DIGITS}}}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


# Registered once, when the first URL module that uses <id:...> imports this one.
register_converter(IdConverter, "id")
