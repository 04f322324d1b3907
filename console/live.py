"""Live updates: after a commit, tell the console groups that a ticket changed.

Groups are only a coarse address (region, tier, person, ticket); the WebSocket
consumer checks Ticket.objects.visible_to() before it forwards anything, so a
group membership never grants sight of a ticket by itself.
"""

import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from console.fanout import send_to_groups
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


def on_notification_created(sender, user_id: int, signal=None, **extra) -> None:
    """Receiver of ``tickets.signals.notification_created``: update that person's bell.

    The event carries no count: each open page of the person reads it when
    the event arrives, so a notification for someone with no page open costs
    no query (most of them: the expert is often away from the console).
    """
    layer = get_channel_layer()
    if layer is None:
        return
    event = {"type": "notification.new"}
    groups = [f"notify.{user_id}"]
    _dispatch(layer, groups, event, f"live notification for user {user_id}")


# What a live event and its groups need of the ticket.
LIVE_FIELDS = (
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


def on_ticket_changed(
    sender, ticket_id: int, change: str, signal=None, ticket=None, **extra
) -> None:
    """Receiver of ``tickets.signals.ticket_changed`` (sent after the commit)."""
    publish_ticket_change(ticket_id, change, ticket=ticket, **extra)


def publish_ticket_change(ticket_id: int, change: str, *, ticket=None, **extra) -> None:
    """Send a "ticket changed" event to every group that may care.

    `ticket`: the committed instance, when the action that changed it handed
    it over (a new request); otherwise the row is read.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    if ticket is None:
        ticket = Ticket.objects.filter(pk=ticket_id).only(*LIVE_FIELDS).first()
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
    groups = groups_for(ticket)
    _dispatch(layer, groups, event, f"live update for ticket {ticket_id}")


def _dispatch(layer, groups, event, what: str) -> None:
    """Send `event` to `groups`: through the publisher's loop for a networked layer,
    in this thread for the in-process one (skipped when nobody is in the groups).
    A live update must never break the write that caused it: failures are logged."""
    if _uses_network(layer):
        _background().submit(layer, groups, event)
        return
    if _nobody_listens(layer, groups):
        return
    try:
        async_to_sync(_send_all)(layer, groups, event)
    except Exception:
        log.exception("%s failed", what)


def _uses_network(layer) -> bool:
    return not type(layer).__name__.startswith("InMemory")


def _nobody_listens(layer, groups) -> bool:
    """True when an in-process layer has no member in any of `groups`.

    The embedded default's layer lives in this process: its groups can be
    looked at directly, which spares starting an event loop (async_to_sync)
    for an event nobody would receive.
    """
    members = getattr(layer, "groups", None)
    if not isinstance(members, dict):
        return False
    return not any(members.get(group) for group in groups)


class _Publisher:
    """One long-lived event loop in a daemon thread for a networked layer.

    async_to_sync would start a fresh loop, and with it a fresh Redis
    connection, for every write; here the connection pool lives as long as the
    process and the writer never waits for Redis.
    """

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="live-publisher", daemon=True
        )
        self.thread.start()

    def submit(self, layer, groups, event):
        future = asyncio.run_coroutine_threadsafe(_send_all(layer, groups, event), self.loop)
        future.add_done_callback(_log_failure)


def _log_failure(future):
    exc = future.exception()
    if exc is not None:
        log.error("live update failed: %s", exc)


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def _background() -> _Publisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None or not _publisher.thread.is_alive():
            _publisher = _Publisher()
        return _publisher


async def _send_all(layer, groups, event):
    # All the groups in two Redis round trips (console/fanout.py).
    await send_to_groups(layer, groups, event)


def on_surge_alerted(sender, alert_id: int, signal=None, **extra) -> None:
    """Receiver of ``tickets.signals.surge_alerted``: tell the supervisors concerned."""
    # Imported here: the surge models are needed only when an alert is raised.
    from tickets.models import SurgeAlert

    layer = get_channel_layer()
    alert = SurgeAlert.objects.filter(pk=alert_id).first()
    if layer is None or alert is None:
        return
    # Coarse addresses; the consumer asks surges.may_handle() before forwarding.
    groups = ["central", "all"] + [f"region.{pk}" for pk in alert.region_ids]
    event = {"type": "surge.alert", "alert_id": alert.pk}
    # An alert that does not arrive live still shows on the next page.
    _dispatch(layer, groups, event, f"live surge alert {alert_id}")
