"""What the ticket page shows of a request's tags and competence fields."""

from django import forms
from django.utils.translation import get_language

from tickets import fields as competence_fields
from tickets.models import TAG_MAX, TicketFieldValue


def _language() -> str:
    return (get_language() or "bg")[:2]


def ticket_extras(ticket) -> dict:
    """What the ticket page's tag and field boxes show (three small queries)."""
    language = _language()
    tags = list(ticket.tags.order_by("key"))
    values = list(
        TicketFieldValue.objects.filter(ticket=ticket)
        .select_related("field__competence")
        .order_by("field__order", "field_id")
    )
    current = {v.field_id: v.value for v in values}
    asked = competence_fields.fields_for(ticket.competence)
    form = forms.Form(
        initial={competence_fields.param_name(f): current.get(f.pk, "") for f in asked}
    )
    form.fields.update(
        competence_fields.form_fields_for(ticket.competence, language, required=False)
    )
    asked_ids = {f.pk for f in asked}
    other = [
        (
            v.field.localized_label(language),
            competence_fields.display_value(v.field, v.value, language),
        )
        for v in values
        if v.field_id not in asked_ids
    ]
    return {
        "ticket_tags": tags,
        "tag_max": TAG_MAX,
        "fields_form": form if asked else None,
        "other_field_values": other,
    }
