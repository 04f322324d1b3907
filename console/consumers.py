"""The console's WebSocket: ticket changes, filtered by Ticket.objects.visible_to()."""

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import User
from accounts.permissions import followed_institution_ids
from helpdesk.bounds import MAX_ID
from tickets import notifications, policies, surges
from tickets.models import Message, SurgeAlert, Ticket

# What one socket may ask: frames are small JSON objects; a page watches one
# ticket (a few while tabs are moved), so a burst of watches is refused.
MAX_FRAME_CHARS = 2048
MAX_WATCHED = 20
WATCHES_PER_MINUTE = 30
# How often a connected agent is marked online (tickets.notifications): a
# mention mails only colleagues who are away.
ONLINE_MARK_SECONDS = 30


def notification_group(user_id: int) -> str:
    return f"notify.{user_id}"


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Forwards "ticket changed" events the connected person may see.

    Groups only narrow down what arrives; every event is checked against
    visible_to() before it is sent, exactly like a page load would.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.groups_joined = await database_sync_to_async(self._groups)()
        if self.is_staff:
            # The person's own notifications (the bell); every agent joins it,
            # including those whose other groups are only "all".
            self.groups_joined.append(notification_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.watching: set[int] = set()
        self.watch_times: list[float] = []
        self.recent: dict[tuple, None] = {}
        self.marked_online_at = 0.0
        await self.accept()
        await self._mark_online()

    async def _mark_online(self):
        if not self.is_staff:
            return
        now = time.monotonic()
        if now - self.marked_online_at < ONLINE_MARK_SECONDS:
            return
        self.marked_online_at = now
        await database_sync_to_async(notifications.mark_online)(self.user.pk)

    def _groups(self) -> list[str]:
        user = self.user
        agent = user.agent
        # Presence (who else has a ticket open) is shared among support staff only.
        self.is_staff = user.is_superuser or agent is not None
        if user.is_superuser:
            return ["all"]
        groups = [f"user.{user.pk}"]
        if agent is not None:
            if agent.kind == "supervisor" and agent.region_id is None:
                return ["all"]
            if agent.region_id:
                groups.append(f"region.{agent.region_id}")
            if agent.tier == "central":
                groups.append("central")

        groups.extend(f"institution.{i}" for i in sorted(followed_institution_ids(user)))
        return groups

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        for ticket_id in getattr(self, "watching", set()):
            await self.channel_layer.group_discard(f"ticket.{ticket_id}", self.channel_name)
            await self._announce_left(ticket_id)

    async def _announce_left(self, ticket_id: int):
        if not self.is_staff:
            return
        await self.channel_layer.group_send(
            f"ticket.{ticket_id}",
            {
                "type": "ticket.presence",
                "ticket_id": ticket_id,
                "user_id": self.user.pk,
                "name": str(self.user),
                "state": "left",
            },
        )

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Validate a frame before acting on it: a bad one gets an error, the socket stays."""
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self.send_json({"type": "error", "error": "bad_frame"})
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "error": "bad_frame"})
            return
        await self._mark_online()
        await self.receive_json(content, **kwargs)

    def _watch_allowed(self) -> bool:
        now = time.monotonic()
        self.watch_times = [t for t in self.watch_times if now - t < 60]
        if len(self.watch_times) >= WATCHES_PER_MINUTE:
            return False
        self.watch_times.append(now)
        return True

    async def receive_json(self, content, **kwargs):
        action = content.get("action")
        ticket_id = content.get("ticket_id")
        if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
            ticket_id = None
        elif not 0 < ticket_id <= MAX_ID:
            ticket_id = None
        if action == "watch" and ticket_id is not None:
            if ticket_id not in self.watching and (
                len(self.watching) >= MAX_WATCHED or not self._watch_allowed()
            ):
                await self.send_json(
                    {"type": "error", "error": "too_many_watches", "ticket_id": ticket_id}
                )
                return
            if not await self._may_see(ticket_id):
                if ticket_id in self.watching:  # access ended while the page was open
                    self.watching.discard(ticket_id)
                    await self.channel_layer.group_discard(f"ticket.{ticket_id}", self.channel_name)
                await self.send_json(
                    {"type": "error", "error": "not_found", "ticket_id": ticket_id}
                )
                return
            self.watching.add(ticket_id)
            await self.channel_layer.group_add(f"ticket.{ticket_id}", self.channel_name)
            if not self.is_staff:
                return
            await self.channel_layer.group_send(
                f"ticket.{ticket_id}",
                {
                    "type": "ticket.presence",
                    "ticket_id": ticket_id,
                    "user_id": self.user.pk,
                    "name": str(self.user),
                    "state": "viewing",
                },
            )
        elif action == "unwatch" and ticket_id in self.watching:
            self.watching.discard(ticket_id)
            await self.channel_layer.group_discard(f"ticket.{ticket_id}", self.channel_name)
            await self._announce_left(ticket_id)
        elif action == "ping":
            await self.send_json({"type": "pong"})

    @database_sync_to_async
    def _may_see(self, ticket_id: int, message_id=None) -> bool:
        # A fresh user object per check: rights cached on the connection's
        # user would outlive a revoked delegation.
        user = User.objects.filter(pk=self.user.pk, is_active=True).first()
        if user is None:
            return False
        if not Ticket.objects.visible_to(user).filter(pk=ticket_id).exists():
            return False
        if isinstance(message_id, int) and not policies.may_see_internal(user):
            # Requesters never hear that an internal note was written.
            return Message.objects.visible_to(user).filter(pk=message_id).exists()
        return True

    async def ticket_changed(self, event):
        key = (event["ticket_id"], event.get("updated_at"), event.get("change"))
        if key in self.recent:
            return  # the same event reached us through two groups
        self.recent[key] = None
        if len(self.recent) > 500:
            self.recent.pop(next(iter(self.recent)))
        if await self._may_see(event["ticket_id"], event.get("message_id")):
            # The ticket's last message id counts internal notes too; a
            # requester learns of new messages from the message events.
            hidden = {"type"} if self.is_staff else {"type", "last_message_id"}
            await self.send_json(
                {k: v for k, v in event.items() if k not in hidden} | {"type": "ticket"}
            )

    async def notification_new(self, event):
        """A notification was written for the person: send their bell's new count."""
        unread = await database_sync_to_async(notifications.unread_count)(self.user)
        await self.send_json({"type": "notification", "unread": unread})

    async def ticket_presence(self, event):
        if not self.is_staff:
            return
        if event["user_id"] == self.user.pk or event["ticket_id"] not in self.watching:
            return
        if event.get("state") == "viewing" and not event.get("echo"):
            # Tell the newcomer that we are here too.
            await self.channel_layer.group_send(
                f"ticket.{event['ticket_id']}",
                {
                    "type": "ticket.presence",
                    "ticket_id": event["ticket_id"],
                    "user_id": self.user.pk,
                    "name": str(self.user),
                    "state": "viewing",
                    "echo": True,
                },
            )
        await self.send_json({k: v for k, v in event.items() if k != "type"} | {"type": "presence"})

    async def surge_alert(self, event):
        """A possible mass incident: only for those who may act on it (surges.may_handle)."""
        key = ("surge", event.get("alert_id"))
        if key in self.recent:
            return  # the same alert reached us through two groups
        self.recent[key] = None
        if await self._may_handle_surge(event.get("alert_id")):
            await self.send_json({"type": "surge", "alert_id": event["alert_id"]})

    @database_sync_to_async
    def _may_handle_surge(self, alert_id) -> bool:
        user = User.objects.filter(pk=self.user.pk, is_active=True).first()
        alert = (
            SurgeAlert.objects.filter(pk=alert_id).first() if isinstance(alert_id, int) else None
        )
        return user is not None and alert is not None and surges.may_handle(user, alert)
