"""Fields per competence: the extra questions a competence asks, and checking the answers.

An administrator defines the fields (CompetenceField, in the admin); the
answers are TicketFieldValue rows. Everything that reads or writes answers
goes through here: the filing actions and `actions.set_field_values` check
them with `clean_values`, the doors build their inputs with
`form_fields_for` and name them with `param_name`.

The definitions are few and read on every queue page and every filing, so
the active ones are kept in the cache and dropped whenever an administrator
saves one; each process also keeps the rows it read for LOCAL_SECONDS
(unpickling them from Redis on every form was a fifth of a millisecond of
every filing). A change made in this process is seen at once, one made in
another process within LOCAL_SECONDS.
"""

import datetime
import decimal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from django import forms
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError
from tickets.models import FIELD_VALUE_MAX, Competence, CompetenceField, TicketFieldValue

CACHE_KEY = "tickets:competence-fields:v1"
CACHE_SECONDS = 300
LOCAL_SECONDS = 10
PARAM_PREFIX = "cf_"
# Numbers an answer may hold: what the number column stores (18 digits, 4 decimals).
NUMBER_LIMIT = decimal.Decimal("99999999999999")
DATE_MIN = datetime.date(1900, 1, 1)
DATE_MAX = datetime.date(2200, 12, 31)


@dataclass(frozen=True)
class Answer:
    """A checked value: the text shown and filtered on, and its typed copy."""

    value: str
    number: decimal.Decimal | None = None
    date: datetime.date | None = None


def param_name(field: CompetenceField) -> str:
    """The name of a field's input in forms, the API and filter links: cf_<key>."""
    return f"{PARAM_PREFIX}{field.key}"


def active_fields() -> list[CompetenceField]:
    """Every active field of an active competence, in display order (cached).

    The rows are shared by the process's threads: read them, never change them.
    """
    return _active_fields(int(time.monotonic() // LOCAL_SECONDS))


@lru_cache(maxsize=2)
def _active_fields(_bucket: int) -> list[CompetenceField]:
    """The rows this process read in one LOCAL_SECONDS bucket (as tickets/assignment.py does)."""
    rows = cache.get(CACHE_KEY)
    if rows is None:
        rows = list(
            CompetenceField.objects.filter(is_active=True, competence__is_active=True)
            .select_related("competence")
            .order_by("competence__order", "competence_id", "order", "id")
        )
        cache.set(CACHE_KEY, rows, CACHE_SECONDS)
    return rows


def clear_caches() -> None:
    """Forget this process's copy (the next read asks the shared cache)."""
    _active_fields.cache_clear()


def fields_for(
    competence: Competence | None, rows: list[CompetenceField] | None = None
) -> list[CompetenceField]:
    """The active fields a competence asks, in order (none without a competence).

    `rows` is active_fields() when the caller already has it: a form that
    asks every competence's questions reads the cache once, not once per
    competence (each read is a round trip to Redis).
    """
    if competence is None:
        return []
    rows = active_fields() if rows is None else rows
    return [f for f in rows if f.competence_id == competence.pk]


@receiver(post_save, sender=CompetenceField)
@receiver(post_delete, sender=CompetenceField)
@receiver(post_save, sender=Competence)
def _forget_fields(**kwargs):
    cache.delete(CACHE_KEY)
    clear_caches()


def _error(field: CompetenceField, text: str) -> DomainError:
    label = field.localized_label((get_language() or "bg")[:2])
    return DomainError(f"{label}: {text}", field=param_name(field))


def clean_value(field: CompetenceField, raw) -> Answer | None:
    """Check one answer; return it, or None when it is empty. Raise DomainError when bad."""
    if raw is None:
        return None
    if isinstance(raw, bool) or isinstance(raw, list | dict | tuple):
        raise _error(field, _("this is not a value of the right kind."))
    if field.kind == CompetenceField.Kind.DATE and isinstance(raw, datetime.date):
        text = raw.isoformat()
    else:
        text = " ".join(str(raw).split())
    if not text:
        return None
    if len(text) > FIELD_VALUE_MAX:
        raise _error(
            field, _("the value is longer than %(n)s characters.") % {"n": FIELD_VALUE_MAX}
        )
    if field.kind == CompetenceField.Kind.NUMBER:
        try:
            number = decimal.Decimal(text.replace(",", "."))
        except decimal.InvalidOperation:
            number = None
        if number is None or not number.is_finite() or abs(number) > NUMBER_LIMIT:
            raise _error(field, _("enter a number."))
        number = number.quantize(decimal.Decimal("0.0001")).normalize()
        return Answer(value=format(number, "f"), number=number)
    if field.kind == CompetenceField.Kind.DATE:
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            day = None
        if day is None or not DATE_MIN <= day <= DATE_MAX:
            raise _error(field, _("enter a date as YYYY-MM-DD."))
        return Answer(value=day.isoformat(), date=day)
    if field.kind == CompetenceField.Kind.CHOICE:
        options = [value for value, _en in field.choice_list()]
        if text not in options:
            raise _error(field, _("choose one of the options."))
        return Answer(value=text)
    if any(ord(c) < 32 for c in text):
        raise _error(field, _("the value contains control characters."))
    return Answer(value=text)


def clean_values(
    competence: Competence | None, raw: Mapping | None, *, enforce_required: bool
) -> dict[CompetenceField, Answer | None]:
    """Check the answers to a competence's fields, keyed by field key (or cf_<key>).

    Returns {field: answer or None (empty)} for every field of the
    competence. A key the competence does not ask, a bad value, or (with
    `enforce_required`) a missing required answer raises DomainError.
    """
    if raw is not None and not isinstance(raw, Mapping):
        raise DomainError(_("The fields must be an object of key: value."), field="fields")
    raw = dict(raw or {})
    wanted = fields_for(competence)
    by_key = {f.key: f for f in wanted}
    given = {}
    for key, value in raw.items():
        name = str(key)
        name = name[len(PARAM_PREFIX) :] if name.startswith(PARAM_PREFIX) else name
        if name not in by_key:
            raise DomainError(
                _("The competence has no field “%(key)s”.") % {"key": name[:40]}, field="fields"
            )
        given[name] = value
    out = {}
    for field in wanted:
        answer = clean_value(field, given.get(field.key))
        if answer is None and field.required and enforce_required:
            raise _error(field, _("this field is required."))
        out[field] = answer
    return out


def value_rows(ticket, answers: Mapping[CompetenceField, Answer | None]) -> list[TicketFieldValue]:
    """Unsaved rows for the non-empty answers (for a bulk insert at filing)."""
    return [
        TicketFieldValue(ticket=ticket, field=field, value=a.value, number=a.number, date=a.date)
        for field, a in answers.items()
        if a is not None
    ]


def display_value(field: CompetenceField, value: str, language: str) -> str:
    """An answer as a reader sees it: a choice in their language, a date as dd.mm.yyyy."""
    if field.kind == CompetenceField.Kind.CHOICE:
        return field.choice_label(value, language)
    if field.kind == CompetenceField.Kind.DATE:
        try:
            return datetime.date.fromisoformat(value).strftime("%d.%m.%Y")
        except ValueError:
            return value
    return value


def values_of(ticket) -> dict[str, str]:
    """{field key: stored value} of a ticket (uses a prefetched `field_values` when there)."""
    return {v.field.key: v.value for v in ticket.field_values.all()}


# --- form fields, for every door that asks them ------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def form_field(field: CompetenceField, language: str, *, required: bool) -> forms.Field:
    """A Django form field asking `field` in `language`; its value is then checked by clean_value."""
    common = {
        "label": field.localized_label(language),
        "help_text": field.localized_help(language),
        "required": required,
    }
    if field.kind == CompetenceField.Kind.CHOICE:
        options = [(v, field.choice_label(v, language)) for v, _en in field.choice_list()]
        return forms.ChoiceField(choices=[("", "—"), *options], **common)
    if field.kind == CompetenceField.Kind.DATE:
        return forms.CharField(widget=DateInput(), max_length=10, **common)
    if field.kind == CompetenceField.Kind.NUMBER:
        return forms.CharField(
            widget=forms.TextInput(attrs={"inputmode": "decimal"}), max_length=40, **common
        )
    return forms.CharField(max_length=FIELD_VALUE_MAX, **common)


def form_fields_for(
    competence: Competence | None,
    language: str = "bg",
    *,
    required: bool = True,
    rows: list[CompetenceField] | None = None,
) -> dict[str, forms.Field]:
    """{cf_<key>: form field} for a competence's active fields, in order.

    For any form that files or edits a request under one competence (the
    portal, the console's new-request page, the ticket page). With
    `required=False` no input is marked required (a form that shows several
    competences' fields at once decides in its clean() which ones apply).
    The cleaned strings go to the actions, which check them with clean_values.
    """
    return {
        param_name(f): form_field(f, language, required=required and f.required)
        for f in fields_for(competence, rows)
    }


def add_form_fields(form, competences, language: str) -> list[tuple[Competence, list[str]]]:
    """Add every competence's questions to `form` (none marked required); return the groups.

    For a form where the competence is chosen on the same page: without
    JavaScript every group shows under its competence's name, and
    ``form_answers`` keeps only the chosen competence's answers.
    """
    groups = []
    rows = active_fields()
    for competence in competences:
        extra = form_fields_for(competence, language, required=False, rows=rows)
        if extra:
            form.fields.update(extra)
            groups.append((competence, list(extra)))
    return groups


def form_field_groups(form, groups, language: str) -> list[dict]:
    """The groups as the templates show them: competence id, name, bound fields, required names."""
    required = {param_name(f) for f in active_fields() if f.required}
    return [
        {
            "competence": competence.pk,
            "name": competence.localized_name(language),
            "fields": [form[name] for name in names],
            "required": [name for name in names if name in required],
        }
        for competence, names in groups
    ]


def form_answers(form, competence: Competence | None, data) -> dict[str, str]:
    """Check the chosen competence's answers in a bound form's cleaned `data`.

    Errors go onto the form's fields (the same check the filing action
    makes, and a required question left empty); returns {field key: value}.
    """
    answers: dict[str, str] = {}
    if competence is None:
        return answers
    for field in fields_for(competence):
        name = param_name(field)
        if name in form.errors:
            continue
        try:
            answer = clean_value(field, data.get(name))
        except DomainError as error:
            form.add_error(name, str(error.message))
            continue
        if answer is None and field.required:
            form.add_error(name, _("Answer this question: the area you chose needs it."))
        elif answer is not None:
            answers[field.key] = answer.value
    return answers
