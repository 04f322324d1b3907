"""Scheduled reports: a supervisor subscribes to their figures by mail, or stops."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import Region
from accounts.permissions import is_supervisor
from helpdesk.errors import DomainError, NotAllowed
from tickets.models import ReportSubscription


def _require_supervisor(actor) -> None:
    if not is_supervisor(actor):
        raise NotAllowed(_("Only supervisors subscribe to reports."))


def _national(actor) -> bool:
    agent = actor.agent
    return actor.is_superuser or (agent is not None and agent.region_id is None)


@transaction.atomic
def subscribe_report(*, actor, period: str, region: Region | None = None) -> ReportSubscription:
    """Subscribe `actor` to the weekly or monthly report of what they may see.

    A regional supervisor's report covers their region (the `region` given
    must be it, or None); a national one's the country, or one region.
    Subscribing twice to the same report returns the existing subscription.
    """
    _require_supervisor(actor)
    if period not in ReportSubscription.Period.values:
        raise DomainError(_("Choose weekly or monthly."), field="period")
    if region is not None and not isinstance(region, Region):
        raise DomainError(_("Unknown region."), field="region")
    if not _national(actor):
        own = actor.agent.region_id if actor.agent is not None else None
        if region is not None and region.pk != own:
            raise NotAllowed(_("You may subscribe only to the figures of your region."))
        region = None
    existing = ReportSubscription.objects.filter(user=actor, period=period, region=region).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return ReportSubscription.objects.create(user=actor, period=period, region=region)
    except IntegrityError:
        return ReportSubscription.objects.get(user=actor, period=period, region=region)


@transaction.atomic
def unsubscribe_report(*, actor, subscription_id: int) -> bool:
    """Remove one of `actor`'s own subscriptions; False if there was none."""
    deleted, _rows = ReportSubscription.objects.filter(pk=subscription_id, user=actor).delete()
    return bool(deleted)
