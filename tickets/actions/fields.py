"""Answers to the fields of a request's competence, as an agent corrects or completes them."""

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from tickets import events, fields
from tickets.actions.base import announce, lock, require_agent, require_visible
from tickets.models import Channel, Ticket, TicketFieldValue


@transaction.atomic
def set_field_values(
    *, ticket: Ticket, actor, values: Mapping, channel: str = Channel.CONSOLE, now=None
) -> list[str]:
    """Set the answers in `values` ({key or cf_<key>: text}); an empty text clears one.

    Only the fields of the request's competence may be set. Every answer is
    checked before anything is written; each answer that changes gets its
    own history line. Required fields are the filer's duty: an agent may
    leave one empty (a request that came by e-mail has none). Returns the
    keys that changed.
    """
    now = now or timezone.now()
    require_agent(actor)
    require_visible(ticket, actor)
    ticket = lock(ticket)
    wanted = {
        str(k)[len(fields.PARAM_PREFIX) :] if str(k).startswith(fields.PARAM_PREFIX) else str(k)
        for k in values
    }
    answers = fields.clean_values(ticket.competence, values, enforce_required=False)
    existing = {
        v.field_id: v
        for v in TicketFieldValue.objects.filter(ticket=ticket).select_related("field")
    }
    changed = []
    for field, answer in answers.items():
        if field.key not in wanted:
            continue
        row = existing.get(field.pk)
        old = row.value if row is not None else ""
        new = answer.value if answer is not None else ""
        if old == new:
            continue
        if answer is None:
            row.delete()
        elif row is None:
            TicketFieldValue.objects.create(
                ticket=ticket, field=field, value=new, number=answer.number, date=answer.date
            )
        else:
            row.value, row.number, row.date = new, answer.number, answer.date
            row.save(update_fields=["value", "number", "date"])
        events.field_changed(
            ticket, actor=actor, channel=channel, label=field.label, old=old, new=new, at=now
        )
        changed.append(field.key)
    if changed:
        ticket.updated_at = now
        ticket.save(update_fields=["updated_at"])
        announce(ticket.pk, "fields")
    return changed
