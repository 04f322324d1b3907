"""While a request is written: open requests of the same institution that look like it.

The filing form asks `similar` as the subject and description are typed
(a POST with a JSON body: the draft never stands in a URL). The person may
follow one of the shown requests instead of filing (`follow_similar`: they
become its watcher, get its public replies and see it in the portal), or
file anyway; both are recorded with what was shown (tickets.similarity).
"""

import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.permissions import filing_institution_ids
from helpdesk.errors import DomainError
from tickets import actions, similarity
from tickets.models import OPEN_STATUSES, Channel, Ticket, Watcher

log = logging.getLogger(__name__)

BODY_MAX = 8192
SHOWN = 3
TOKEN_MAX = 32


def _draft(request) -> dict | None:
    if len(request.body) > BODY_MAX:
        return None
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _text(data: dict, name: str, limit: int) -> str:
    value = data.get(name)
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def _same_institution(user):
    """Open requests of the institutions the person files for."""
    return Ticket.objects.filter(
        institution_id__in=filing_institution_ids(user),
        status__in=OPEN_STATUSES,
        merged_into__isnull=True,
    )


@login_required
@require_POST
def similar(request):
    """Return {"requests": [{reference, subject, filed, status}], "token"} like the draft.

    Body: {"subject", "text", "institution" (id), "token"}. An institution the
    person does not file for is a 400.
    """
    data = _draft(request)
    if data is None:
        return JsonResponse({"error": _("Send a JSON object.")}, status=400)
    institution = data.get("institution")
    if isinstance(institution, str) and institution.isdigit():
        institution = int(institution)
    if isinstance(institution, bool) or not isinstance(institution, int):
        return JsonResponse({"error": _("Choose the institution.")}, status=400)
    if institution not in filing_institution_ids(request.user):
        return JsonResponse(
            {"error": _("You may not file requests for this institution.")}, status=400
        )
    subject, text = _text(data, "subject", 200), _text(data, "text", 2000)
    token = _text(data, "token", TOKEN_MAX)
    found = []
    if len(subject) + len(text) >= 3:
        found = similarity.similar_to_text(
            subject,
            text,
            within=_same_institution(request.user),
            institution_id=institution,
            open_only=True,
            limit=SHOWN,
        )
    mine = request.user.pk
    found = [s for s in found if s.ticket.requester_id != mine]
    if found:
        try:
            token = similarity.record_shown(
                request.user, institution, [s.ticket.pk for s in found], subject, token
            )
        except Exception:  # figures must never break the form
            log.exception("could not record similar requests shown")
    today = timezone.localdate()
    rows = []
    for item in found:
        day = timezone.localdate(item.ticket.created_at)
        rows.append(
            {
                "reference": item.ticket.reference,
                "subject": item.ticket.subject,
                "filed": _("filed today")
                if day == today
                else _("filed on %(date)s")
                % {"date": formats.date_format(day, "SHORT_DATE_FORMAT")},
                "status": str(item.ticket.get_status_display()),
            }
        )
    return JsonResponse({"requests": rows, "token": token})


@login_required
@require_POST
def follow_similar(request):
    """Follow a shown request of the institution instead of filing a new one."""
    reference = (request.POST.get("follow") or "").strip()[:20]
    ticket = _same_institution(request.user).filter(reference=reference).first()
    if ticket is None:
        raise Http404
    if ticket.requester_id != request.user.pk:
        try:
            actions.add_watcher(
                ticket,
                actor=request.user,
                user=request.user,
                source=Watcher.Source.FOLLOW,
                channel=Channel.PORTAL,
            )
        except DomainError as error:
            messages.error(request, str(error.message))
            return redirect("portal:new")
    try:
        similarity.record_followed(
            request.POST.get("similar_token", "")[:TOKEN_MAX], request.user, ticket
        )
    except Exception:  # figures must never undo the follow
        log.exception("could not record a follow of %s", ticket.reference)
    messages.success(
        request,
        _(
            "You now follow %(ref)s: you will receive its replies by e-mail, and nothing new "
            "was filed."
        )
        % {"ref": ticket.reference},
    )
    return redirect("portal:ticket", reference=ticket.reference)


def record_filed_anyway(token: str, ticket) -> None:
    """Called by the filing view after a request was filed with similar ones shown."""
    if not token:
        return
    try:
        similarity.record_filed(token[:TOKEN_MAX], ticket)
    except Exception:  # figures must never stop a request from being filed
        log.exception("could not record similar requests for %s", ticket.reference)
