"""Surge alerts: dismissing one, or turning it into a mass incident with its members linked."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError, NotAllowed
from tickets import surges
from tickets.actions.base import require_agent
from tickets.actions.bulk import BatchResult
from tickets.actions.filing import file_request
from tickets.actions.links import link_to_incident, set_incident
from tickets.models import Channel, Priority, SurgeAlert, Ticket


def _lock_open(alert: SurgeAlert, actor) -> SurgeAlert:
    require_agent(actor)
    if not surges.may_handle(actor, alert):
        raise NotAllowed(
            _(
                "Only supervisors of the regions concerned and central support may act on this alert."
            )
        )
    alert = SurgeAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.state != SurgeAlert.State.OPEN:
        raise DomainError(_("This alert was already dealt with."))
    return alert


@transaction.atomic
def dismiss_surge(*, alert: SurgeAlert, actor, now=None) -> SurgeAlert:
    """Dismiss the alert; the same cluster does not raise it again."""
    alert = _lock_open(alert, actor)
    alert.state = SurgeAlert.State.DISMISSED
    alert.decided_by = actor
    alert.decided_at = now or timezone.now()
    alert.save(update_fields=["state", "decided_by", "decided_at"])
    return alert


@transaction.atomic
def open_surge_incident(
    *, alert: SurgeAlert, actor, subject: str, text: str, channel=Channel.CONSOLE, now=None
) -> tuple[Ticket, BatchResult]:
    """Create the mass incident of an alert and link its members to it.

    Returns the incident and which members were linked (done) or refused
    (failed: a request the actor may not see, a merged one). From then on
    requests that match the alert are linked on arrival (surges.link_on_arrival).
    """
    now = now or timezone.now()
    alert = _lock_open(alert, actor)
    incident = file_request(
        channel=channel,
        actor=actor,
        requester=None,
        requester_email=actor.email,
        requester_name=actor.get_full_name(),
        subject=subject,
        text=text,
        institution=None,
        priority=Priority.HIGH,
        competence=alert.competence if alert.competence and alert.competence.is_active else None,
        # A regional supervisor's incident belongs to their region (so they see it).
        region=actor.agent.region if actor.agent is not None else None,
        route=False,
        notify=False,
        now=now,
    )
    incident = set_incident(ticket=incident, actor=actor, channel=channel, now=now)
    result = BatchResult()
    visible = Ticket.objects.visible_to(actor)
    for member in alert.members.order_by("pk"):
        if not visible.filter(pk=member.pk).exists():
            result.failed.append((member.reference, _("You may not see this request.")))
            continue
        try:
            with transaction.atomic():
                link_to_incident(
                    ticket=member, incident=incident, actor=actor, channel=channel, now=now
                )
        except DomainError as error:
            result.failed.append((member.reference, str(error.message)))
        else:
            result.done.append(member.reference)
    alert.state = SurgeAlert.State.INCIDENT
    alert.incident = incident
    alert.decided_by = actor
    alert.decided_at = now
    alert.save(update_fields=["state", "incident", "decided_by", "decided_at"])
    return incident, result


@transaction.atomic
def set_surge_announcement(*, alert: SurgeAlert, actor, url: str) -> SurgeAlert:
    """Remember the link of the announcement published for the alert's incident."""
    require_agent(actor)
    if not surges.may_handle(actor, alert):
        raise NotAllowed(
            _(
                "Only supervisors of the regions concerned and central support may act on this alert."
            )
        )
    url = (url or "").strip()[:300]
    if url and not url.startswith(("https://", "http://", "/")):
        raise DomainError(_("The announcement link must be a web address."))
    SurgeAlert.objects.filter(pk=alert.pk).update(announcement_url=url)
    alert.announcement_url = url
    return alert
