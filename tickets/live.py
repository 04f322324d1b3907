"""Live updates: after a commit, tell the console groups that a ticket changed.

Groups are only a coarse address (region, tier, person, ticket); the WebSocket
consumer checks Ticket.objects.visible_to() before it forwards anything, so a
group membership never grants sight of a ticket by itself.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from tickets.models import Ticket

log = logging.getLogger(__name__)


def groups_for(ticket: Ticket) -> list[str]:
    groups = ["all", f"ticket.{ticket.pk}"]
    if ticket.region_id:
        groups.append(f"region.{ticket.region_id}")
    if ticket.tier == "central" or ticket.region_id is None:
        groups.append("central")
    if ticket.assignee_id:
        groups.append(f"user.{ticket.assignee_id}")
    if ticket.requester_id:
        groups.append(f"user.{ticket.requester_id}")
    if ticket.institution_id:
        groups.append(f"institution.{ticket.institution_id}")
    return groups


def publish_ticket_change(ticket_id: int, change: str, **extra) -> None:
    """Send a "ticket changed" event to every group that may care."""
    layer = get_channel_layer()
    if layer is None:
        return
    ticket = (
        Ticket.objects.filter(pk=ticket_id)
        .only(
            "id",
            "reference",
            "region_id",
            "tier",
            "assignee_id",
            "requester_id",
            "institution_id",
            "status",
            "priority",
            "updated_at",
            "subject",
            "last_message_id",
        )
        .first()
    )
    if ticket is None:
        return
    event = {
        "type": "ticket.changed",
        "ticket_id": ticket.pk,
        "reference": ticket.reference,
        "change": change,
        "status": ticket.status,
        "priority": ticket.priority,
        "subject": ticket.subject,
        "assignee_id": ticket.assignee_id,
        "last_message_id": ticket.last_message_id,
        "updated_at": ticket.updated_at.isoformat(),
        **{k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool, type(None)))},
    }
    send = async_to_sync(layer.group_send)
    for group in groups_for(ticket):
        try:
            send(group, event)
        except Exception:  # a live update must never break the write that caused it
            log.exception("live update to %s failed", group)
