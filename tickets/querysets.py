"""Every "who may see which ticket, message or file" decision lives here and nowhere else."""

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connections, models
from django.db.models import BooleanField, F, Func, Q

from accounts.permissions import followed_institution_ids, is_agent


class _InArray(Func):
    """`value = ANY(array)`: true when the value is one of the array's (PostgreSQL)."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


class TicketQuerySet(models.QuerySet):
    def visible_to(self, user, at=None):
        """Return the tickets `user` may see.

        The requester sees their own; institution staff see their
        institution's as their role or a delegation in force allows; regional
        experts see their region; central support sees what is escalated to
        the central tier and the triage queue; supervisors see their region
        (or all, without a region); administrators see all. Portal, console,
        API, downloads and WebSocket all call this.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        condition = Q(requester_id=user.pk)
        agent = user.agent
        if agent is not None:
            if agent.kind == "supervisor":
                if agent.region_id is None:
                    return self.all()
                condition |= Q(region_id=agent.region_id)
            elif agent.tier == "central":
                condition |= Q(tier="central") | Q(region__isnull=True) | Q(assignee_id=user.pk)
            else:
                condition |= Q(region_id=agent.region_id) | Q(assignee_id=user.pk)
        institution_ids = followed_institution_ids(user, at)
        if institution_ids:
            condition |= Q(institution_id__in=sorted(institution_ids))
        # Requests the person follows (a colleague's request they chose to follow).
        watched = self.model.watchers.rel.related_model.objects.filter(user_id=user.pk)
        if connections[self.db].vendor == "postgresql":
            # The same set written so that PostgreSQL reads the whole condition
            # from indexes (a bitmap OR): a subquery `IN (...)` inside the OR
            # made it read every row of the table to count a queue.
            condition |= Q(_InArray(F("pk"), ArraySubquery(watched.values("ticket_id"))))
        else:
            condition |= Q(pk__in=watched.values("ticket_id"))
        return self.filter(condition)

    def open(self):
        return self.filter(status__in=("new", "open", "waiting"))


def _ticket_model(queryset):
    return queryset.model._meta.get_field("ticket").related_model


class MessageQuerySet(models.QuerySet):
    def visible_to(self, user, at=None):
        """Return the messages `user` may read: of tickets they may see, notes for staff only.

        The portal, the API (lists, counts, search), the WebSocket and the
        exports read messages through this, so an internal note never shows
        through a count, an id or a search hit.
        """
        tickets = _ticket_model(self).objects.visible_to(user, at)
        return self.filter(ticket__in=tickets.values("pk")).shown_to(user)

    def shown_to(self, user):
        """Narrow messages of a ticket already known to be visible to what `user` may read."""
        if is_agent(user):
            return self
        return self.filter(kind="public")


class AttachmentQuerySet(models.QuerySet):
    def visible_to(self, user, at=None):
        """Return stored files `user` may download: files on internal notes are for staff only."""
        tickets = _ticket_model(self).objects.visible_to(user, at)
        files = self.filter(ticket__in=tickets.values("pk"), rejected_reason="").exclude(file="")
        if is_agent(user):
            return files
        return files.filter(message__kind="public")
