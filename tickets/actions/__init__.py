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
- tagging: tags on requests; an administrator's merge and rename
- fields: answers to the fields of a request's competence
- macros: one click that answers and changes a request, with one history line
- agent: an agent's own canned replies, signatures, notification choices, notifications read
- bulk: one action on many requests
- surges: dismissing a surge alert, or making it a mass incident
- sla: the sweep that marks missed targets and mails warnings
- reports: supervisors' subscriptions to the scheduled reports
"""

from tickets.actions.agent import (
    MACRO_FIELDS,
    PREFERENCE_FIELDS,
    delete_personal_canned,
    delete_personal_macro,
    mark_notifications_read,
    save_agent_settings,
    save_personal_canned,
    save_personal_macro,
)
from tickets.actions.assigning import assign, escalate, hand_over_open_tickets, take
from tickets.actions.base import in_callers_transaction
from tickets.actions.bulk import BULK_ACTIONS, BatchResult, bulk_update
from tickets.actions.conversation import add_message
from tickets.actions.details import change_competence, change_priority, rate, rate_from_link
from tickets.actions.fields import set_field_values
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
from tickets.actions.macros import MacroResult, apply_macro, macros_for
from tickets.actions.people import add_watcher, remove_watcher
from tickets.actions.reports import subscribe_report, unsubscribe_report
from tickets.actions.status import change_status, close_resolved
from tickets.actions.surges import dismiss_surge, open_surge_incident, set_surge_announcement
from tickets.actions.tagging import (
    change_tags,
    clean_tag,
    merge_tags,
    parse_tags,
    rename_tag,
    set_tags,
)

__all__ = [
    "in_callers_transaction",
    "MACRO_FIELDS",
    "PREFERENCE_FIELDS",
    "delete_personal_canned",
    "delete_personal_macro",
    "mark_notifications_read",
    "save_agent_settings",
    "save_personal_canned",
    "save_personal_macro",
    "BULK_ACTIONS",
    "BatchResult",
    "add_message",
    "add_watcher",
    "apply_macro",
    "MacroResult",
    "macros_for",
    "assign",
    "bulk_update",
    "change_competence",
    "change_priority",
    "change_status",
    "change_status_with_children",
    "change_tags",
    "clean_tag",
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
    "merge_tags",
    "parse_tags",
    "open_surge_incident",
    "rate",
    "rename_tag",
    "rate_from_link",
    "subscribe_report",
    "unsubscribe_report",
    "reply_to_incident",
    "set_field_values",
    "set_incident",
    "set_tags",
    "set_surge_announcement",
    "take",
    "unlink_related",
]
