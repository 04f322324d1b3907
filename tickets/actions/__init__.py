"""Every write to a ticket, by what a person does: the domain's public actions.

Each action runs in one transaction, locks the rows it changes, writes a
history line (tickets/events.py) for what a person would later ask about,
writes the mail it owes people to the outbox (tickets/outbox.py) and
announces the change after the commit (tickets/signals.py). Callers pass
keyword arguments; bad input raises a DomainError and writes nothing.
Doors import from here, never from the modules inside.

- filing: a request from the portal, the API, a mail, or an agent on someone's behalf
- conversation: replies and internal notes
- status: resolving, reopening, closing
- assigning: assigning, taking, escalating, handing over an absent expert's work
- details: priority, competence, the requester's rating
- links: merging duplicates, related requests, mass incidents
- people: watchers and copied addresses besides the requester
- bulk: one action on many requests
- surges: dismissing a surge alert, or making it a mass incident
- sla: the sweep that marks missed targets and mails warnings
"""

from tickets.actions.assigning import assign, escalate, hand_over_open_tickets, take
from tickets.actions.bulk import BULK_ACTIONS, BatchResult, bulk_update
from tickets.actions.conversation import add_message
from tickets.actions.details import change_competence, change_priority, rate
from tickets.actions.filing import (
    create_ticket,
    file_for_requester,
    file_from_api,
    file_from_mail,
    file_from_portal,
)
from tickets.actions.links import (
    change_status_with_children,
    link_related,
    link_to_incident,
    merge,
    reply_to_incident,
    set_incident,
    unlink_related,
)
from tickets.actions.people import add_watcher, remove_watcher
from tickets.actions.status import change_status, close_resolved
from tickets.actions.surges import dismiss_surge, open_surge_incident, set_surge_announcement

__all__ = [
    "BULK_ACTIONS",
    "BatchResult",
    "add_message",
    "add_watcher",
    "assign",
    "bulk_update",
    "change_competence",
    "change_priority",
    "change_status",
    "change_status_with_children",
    "close_resolved",
    "create_ticket",
    "dismiss_surge",
    "escalate",
    "file_for_requester",
    "file_from_api",
    "file_from_mail",
    "file_from_portal",
    "hand_over_open_tickets",
    "link_related",
    "remove_watcher",
    "link_to_incident",
    "merge",
    "open_surge_incident",
    "rate",
    "reply_to_incident",
    "set_incident",
    "set_surge_announcement",
    "take",
    "unlink_related",
]
