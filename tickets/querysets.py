"""Every "who may see which ticket" decision lives here and nowhere else."""

from django.db import models
from django.db.models import Q


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
        from accounts.permissions import followed_institution_ids

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
        return self.filter(condition)

    def open(self):
        return self.filter(status__in=("new", "open", "waiting"))
