"""Waves in the console: similar requests on the ticket page, and surge alerts.

- `similar_card`: the ticket page's "similar requests" card, loaded after the
  page (console/templates/console/ticket/_similar.html): open and resolved
  requests like this one that the agent may see, each resolved one with the
  public answer that resolved it; the card's buttons post to the existing
  link / merge / incident actions, and "reply from this answer" copies the
  answer into the reply form.
- `surge_box`, `surge_dismiss`, `surge_incident`: the alert box on every
  console page (refreshed when the live socket says "surge"), dismissing an
  alert, and one click that creates the incident, links the members and
  publishes an announcement whose link the acknowledgements of later
  matching requests carry.
"""

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from console.views import _get_ticket, agent_required
from helpdesk.bounds import parse_id
from helpdesk.errors import DomainError
from kb import announcements
from tickets import actions, similarity, surges
from tickets.models import Message, Status, SurgeAlert, Ticket

SIMILAR_SHOWN = 8
MEMBERS_SHOWN = 12
ANSWER_MAX = 4000


def _resolving_answers(tickets) -> dict[int, str]:
    """The last public reply by support staff of each resolved ticket, by ticket id."""
    resolved = [t for t in tickets if t.status in (Status.RESOLVED, Status.CLOSED)]
    if not resolved:
        return {}
    rows = (
        Message.objects.filter(
            ticket__in=resolved, kind=Message.Kind.PUBLIC, from_staff=True, is_auto_reply=False
        )
        .order_by("ticket_id", "-created_at", "-id")
        .values_list("ticket_id", "body_text")
    )
    answers: dict[int, str] = {}
    for ticket_id, body in rows:
        answers.setdefault(ticket_id, body[:ANSWER_MAX])
    return answers


@agent_required
@require_GET
def similar_card(request, reference):
    ticket = _get_ticket(request, reference)
    found = similarity.similar_to_ticket(ticket, user=request.user, limit=SIMILAR_SHOWN)
    answers = _resolving_answers([s.ticket for s in found])
    items = [
        {
            "ticket": s.ticket,
            "percent": round(s.score * 100),
            "answer": answers.get(s.ticket.pk, ""),
            "incident": s.ticket
            if s.ticket.is_incident
            else (s.ticket.parent if s.ticket.parent_id else None),
        }
        for s in found
    ]
    return render(request, "console/ticket/_similar_items.html", {"ticket": ticket, "items": items})


# --- surge alerts -----------------------------------------------------------------------


def _alert_or_404(request, pk) -> SurgeAlert:
    alert = SurgeAlert.objects.filter(pk=parse_id(pk)).select_related("competence").first()
    if alert is None or not surges.may_handle(request.user, alert):
        raise Http404(_("No such alert, or it is not for you."))
    return alert


@agent_required
@require_GET
def surge_box(request):
    alerts = surges.alerts_for(request.user)
    visible = Ticket.objects.visible_to(request.user)
    for alert in alerts:
        alert.shown_members = list(
            visible.filter(surges=alert)
            .select_related("institution")
            .order_by("-created_at")[:MEMBERS_SHOWN]
        )
    return render(request, "console/_surge_alerts.html", {"alerts": alerts})


@agent_required
@require_POST
def surge_dismiss(request, pk):
    alert = _alert_or_404(request, pk)
    try:
        actions.dismiss_surge(alert=alert, actor=request.user)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The alert was dismissed; this wave will not raise it again."))
    return redirect(_back(request))


def _back(request) -> str:
    target = request.POST.get("next", "")
    if target.startswith("/console/") and "//" not in target:
        return target
    return reverse("console:queue")


def _clean(value, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]


@agent_required
@require_POST
def surge_incident(request, pk):
    """Create the incident of an alert, link its members, publish the announcement."""
    alert = _alert_or_404(request, pk)
    label = alert.label or alert.terms
    subject = _clean(request.POST.get("subject"), 200) or _("Mass incident: %(label)s") % {
        "label": label
    }
    notice = _clean(request.POST.get("announcement"), 500) or _(
        "Many schools report the same problem: “%(label)s”. Support knows about it and is "
        "working on it; there is no need to file another request."
    ) % {"label": label}
    text = _(
        "Created from a surge alert: %(requests)s requests from %(institutions)s institutions."
    ) % {"requests": alert.request_count, "institutions": alert.institution_count}
    try:
        with transaction.atomic():
            incident, result = actions.open_surge_incident(
                alert=alert, actor=request.user, subject=subject, text=text
            )
            announcement = announcements.publish(
                title=subject, text=notice, region_ids=_regions(alert), actor=request.user
            )
            url = settings.SITE_URL + reverse("kb:announcement", args=[announcement.pk])
            actions.set_surge_announcement(alert=alert, actor=request.user, url=url)
    except DomainError as error:
        messages.error(request, str(error.message))
        return redirect(_back(request))
    messages.success(
        request,
        _(
            "Incident %(ref)s created, %(n)s requests linked and the announcement published; "
            "new matching requests will be linked on arrival."
        )
        % {"ref": incident.reference, "n": len(result.done)},
    )
    for ref, reason in result.failed[:20]:
        messages.error(request, f"{ref}: {reason}")
    return redirect("console:ticket", incident.reference)


def _regions(alert: SurgeAlert) -> list[int]:
    """An alert confined to one region announces there; a wider one everywhere."""
    return list(alert.region_ids) if len(alert.region_ids) == 1 else []
