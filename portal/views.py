"""The institution portal: file a request, follow it, answer, rate; delegate rights.

Views are thin doors. What a person may see comes only from
Ticket.objects.visible_to(); what they may change is decided by
tickets.actions and accounts.services. A ticket the person may not see is
a 404, never a 403, so that its existence does not leak.
"""

import datetime
import json
import logging
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services as account_services
from accounts.models import Delegation, Institution, Membership
from accounts.permissions import (
    directed_institution_ids,
    filing_institution_ids,
    followed_institution_ids,
    member_institutions,
)
from helpdesk.errors import DomainError, RateLimited
from kb import deflection
from kb.search import suggest_articles
from portal import similar
from portal.forms import (
    DelegationForm,
    RatingForm,
    ReopenForm,
    ReplyForm,
    TicketFilterForm,
    TicketForm,
)
from tickets import actions, policies, ratelimit, rating_links
from tickets.models import (
    OPEN_STATUSES,
    Attachment,
    Channel,
    Message,
    Status,
    Ticket,
    Watcher,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 25
_REFERENCE = re.compile(r"^(\d{2})-(\d{1,9})$")
SUGGEST_LIMIT = 5
FORM_START_SLACK = datetime.timedelta(minutes=15)


# --- helpers -------------------------------------------------------------------


def _language() -> str:
    return (translation.get_language() or "bg")[:2]


def _ticket_or_404(user, reference: str) -> Ticket:
    ticket = (
        Ticket.objects.visible_to(user)
        .select_related(
            "institution", "competence", "region", "assignee", "requester", "merged_into"
        )
        .filter(reference=reference)
        .first()
    )
    if ticket is None:
        raise Http404(_("No such request."))
    return ticket


def _apply_domain_error(form, error: DomainError, field_map: dict[str, str]) -> None:
    """Show a service's refusal on the form field it is about (or on the form)."""
    field = field_map.get(error.field or "", error.field)
    if field not in form.fields:
        field = None
    form.add_error(field, str(error.message))


def _handled_by(ticket: Ticket) -> str:
    if ticket.tier == "central" or ticket.region_id is None:
        return _("Central support")
    return str(ticket.region)


# --- lists ---------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def search_condition(text: str) -> Q:
    """Return the condition for the list's search box: a reference, or subject words.

    Only the subject and the reference are searched: message texts include
    internal notes, which must not show through as search hits. SQLite folds
    only ASCII case, so each word is also tried lower-case, capitalised and
    upper-case, which covers how people write Cyrillic subjects.
    """
    text = " ".join(text.split())[:100]
    if not text:
        return Q()
    match = _REFERENCE.match(text)
    if match:
        return Q(reference=f"{match.group(1)}-{int(match.group(2)):06d}")
    words = _WORD.findall(text)[:8]
    if not words:
        # Only punctuation: nothing can match it.
        return Q(pk__in=[])
    condition = Q()
    for word in words:
        variants = {word, word.lower(), word.capitalize(), word.upper()}
        either = Q(reference__contains=word) if word.isdigit() else Q()
        for variant in sorted(variants):
            either |= Q(subject__icontains=variant)
        condition &= either
    return condition


@login_required
@require_GET
def ticket_list(request):
    """My requests, or my institution's requests, with filters and paging."""
    user = request.user
    language = _language()
    followed = followed_institution_ids(user)
    visible = Ticket.objects.visible_to(user)
    scope = request.GET.get("scope", "mine")
    following = Watcher.objects.filter(user=user).exists()
    if scope == "institution" and followed:
        tickets = visible.filter(institution_id__in=sorted(followed))
    elif scope == "followed" and following:
        # Requests of others the person follows (added by a colleague or by support).
        tickets = visible.filter(watchers__user=user)
    else:
        scope = "mine"
        tickets = visible.filter(requester_id=user.pk)

    filters = TicketFilterForm(request.GET or None, language=language)
    if filters.is_valid():
        status = filters.cleaned_data.get("status")
        if status == "open":
            tickets = tickets.filter(status__in=OPEN_STATUSES)
        elif status:
            tickets = tickets.filter(status=status)
        if filters.cleaned_data.get("competence"):
            tickets = tickets.filter(competence=filters.cleaned_data["competence"])
        tickets = tickets.filter(search_condition(filters.cleaned_data.get("q") or ""))

    tickets = tickets.select_related(
        "competence", "institution", "region", "assignee", "requester"
    ).order_by("-updated_at", "-id")
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    for ticket in page.object_list:
        ticket.competence_label = (
            ticket.competence.localized_name(language) if ticket.competence_id else ""
        )
        ticket.handled_by = _handled_by(ticket)
    context = {
        "scope": scope,
        "can_follow_institution": bool(followed),
        "following": following,
        "can_file": bool(filing_institution_ids(user)),
        "filters": filters,
        "page": page,
        "filtered": any(request.GET.get(k) for k in ("status", "competence", "q")),
    }
    return render(request, "portal/list.html", context)


# --- filing --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def ticket_new(request):
    """Show the filing form; on a valid POST create the ticket and go to its page."""
    user = request.user
    # The institutions of the person's memberships, with their regions, from
    # the cached rights (accounts.rights_cache): no query on a warm request.
    institutions = member_institutions(user)
    if not institutions:
        return render(request, "portal/no_institution.html", status=200)
    form = TicketForm(
        request.POST or None,
        request.FILES or None,
        user=user,
        institutions=institutions,
        language=_language(),
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        institution = data["institution"]
        try:
            ratelimit.check_filing_allowed(user, institution.pk)
            ticket = actions.file_from_portal(
                actor=user,
                institution=institution,
                competence=data["competence"],
                subject=data["subject"],
                text=data.get("description") or "",
                priority=data.get("priority") or None,
                files=data.get("files") or [],
                field_values=data.get("field_values") or {},
            )
        except RateLimited as error:
            form.add_error(None, str(error.message))
            status = 429
        except DomainError as error:
            _apply_domain_error(form, error, {"text": "description"})
        else:
            ratelimit.record_filing(user, institution.pk)
            _record_filed_anyway(request.POST.get("deflection_token", ""), ticket)
            similar.record_filed_anyway(request.POST.get("similar_token", ""), ticket)
            messages.success(
                request,
                _("Your request was filed as %(ref)s. A confirmation was sent to %(email)s.")
                % {"ref": ticket.reference, "email": user.email},
            )
            _tell_egn_hidden(request, getattr(ticket, "egn_masked", 0))
            return redirect("portal:ticket", reference=ticket.reference)
    return render(
        request,
        "portal/new.html",
        {"form": form, "max_file_bytes": settings.HELPDESK["MAX_FILE_BYTES"]},
        status=status,
    )


def _tell_egn_hidden(request, count: int) -> None:
    """Say why a personal number (ЕГН) the person wrote no longer shows."""
    if count:
        messages.warning(
            request,
            ngettext(
                "Your text contained a personal number (ЕГН); it was hidden (shown as "
                "**********) to protect it. Support staff do not need it: write the "
                "person's name and the document instead, or give the number by phone "
                "if an expert asks.",
                "Your text contained %(n)d personal numbers (ЕГН); they were hidden (shown "
                "as **********) to protect them. Support staff do not need them: write the "
                "people's names and the documents instead, or give the numbers by phone "
                "if an expert asks.",
                count,
            )
            % {"n": count},
        )


# --- one request ---------------------------------------------------------------


def _conversation(ticket: Ticket) -> list[Message]:
    rows = list(
        ticket.messages.filter(kind=Message.Kind.PUBLIC)
        .select_related("author")
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id"))
        )
        .order_by("created_at", "id")
    )
    for message in rows:
        # body_html is sanitised once, by the action that stored it (bounded
        # time whatever the nesting); showing a ticket never sanitises again.
        message.safe_html = mark_safe(message.body_html) if message.body_html else ""
    return rows


def _refused(request, ticket, error: DomainError):
    """Say why a service refused an action that has no form field to show it on."""
    messages.error(request, str(error.message))
    return redirect("portal:ticket", reference=ticket.reference)


def _render_ticket(request, ticket, *, reply_form=None, rating_form=None, reopen_form=None):
    allowed = policies.requester_actions(request.user, ticket, timezone.now())
    context = {
        "ticket": ticket,
        "conversation": _conversation(ticket),
        "competence_label": (
            ticket.competence.localized_name(_language()) if ticket.competence_id else ""
        ),
        "handled_by": _handled_by(ticket),
        "can_reply": allowed.can_reply,
        "can_solve": allowed.can_solve,
        "can_reopen": allowed.can_reopen,
        "reopen_deadline": allowed.reopen_deadline,
        "can_rate": allowed.can_rate,
        "reply_form": reply_form or ReplyForm(),
        "rating_form": rating_form
        or RatingForm(
            initial={"score": ticket.satisfaction, "comment": ticket.satisfaction_comment}
        ),
        "reopen_form": reopen_form or ReopenForm(),
        "max_file_bytes": settings.HELPDESK["MAX_FILE_BYTES"],
    }
    return render(request, "portal/ticket.html", context)


@login_required
@require_GET
def ticket_detail(request, reference):
    """A request's page: facts, public conversation, actions."""
    ticket = _ticket_or_404(request.user, reference)
    if ticket.merged_into_id:
        target = Ticket.objects.visible_to(request.user).filter(pk=ticket.merged_into_id).first()
        if target is not None:
            messages.info(
                request,
                _("Request %(old)s was merged into %(new)s; the conversation continues here.")
                % {"old": ticket.reference, "new": target.reference},
            )
            return redirect("portal:ticket", reference=target.reference)
    return _render_ticket(request, ticket)


@login_required
@require_POST
def ticket_reply(request, reference):
    """Add the person's public reply (with files) to the conversation."""
    ticket = _ticket_or_404(request.user, reference)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            message = actions.add_message(
                ticket=ticket,
                actor=request.user,
                text=form.cleaned_data.get("text") or "",
                channel=Channel.PORTAL,
                files=form.cleaned_data.get("files") or [],
            )
        except DomainError as error:
            if error.field is None:
                return _refused(request, ticket, error)
            _apply_domain_error(form, error, {})
        else:
            messages.success(request, _("Your reply was sent."))
            _tell_egn_hidden(request, getattr(message, "egn_masked", 0))
            return redirect(reverse("portal:ticket", args=[ticket.reference]) + f"#m-{message.pk}")
    return _render_ticket(request, ticket, reply_form=form)


@login_required
@require_POST
def ticket_solve(request, reference):
    """The requester's side says the problem is solved."""
    ticket = _ticket_or_404(request.user, reference)
    try:
        actions.change_status(
            ticket=ticket,
            actor=request.user,
            status=Status.RESOLVED,
            channel=Channel.PORTAL,
            reason=_("Marked as solved in the portal."),
        )
    except DomainError as error:
        return _refused(request, ticket, error)
    messages.success(request, _("The request is marked as solved. Thank you!"))
    return redirect("portal:ticket", reference=ticket.reference)


@login_required
@require_POST
def ticket_reopen(request, reference):
    """Reopen a resolved request within the reopen period, with an optional reason."""
    ticket = _ticket_or_404(request.user, reference)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        return _render_ticket(request, ticket, reopen_form=form)
    reason = form.cleaned_data.get("reason", "").strip()
    try:
        with transaction.atomic():
            actions.change_status(
                ticket=ticket,
                actor=request.user,
                status=Status.OPEN,
                channel=Channel.PORTAL,
                reason=reason,
            )
            if reason:
                actions.add_message(
                    ticket=ticket, actor=request.user, text=reason, channel=Channel.PORTAL
                )
    except DomainError as error:
        return _refused(request, ticket, error)
    messages.success(request, _("The request is open again."))
    return redirect("portal:ticket", reference=ticket.reference)


@login_required
@require_POST
def ticket_rate(request, reference):
    """Record the requester's satisfaction with a resolved request."""
    ticket = _ticket_or_404(request.user, reference)
    form = RatingForm(request.POST)
    if form.is_valid():
        try:
            actions.rate(
                ticket=ticket,
                actor=request.user,
                score=form.cleaned_data["score"],
                comment=form.cleaned_data.get("comment") or "",
            )
        except DomainError as error:
            if error.field is None:
                return _refused(request, ticket, error)
            _apply_domain_error(form, error, {})
        else:
            messages.success(request, _("Thank you for your rating."))
            return redirect("portal:ticket", reference=ticket.reference)
    return _render_ticket(request, ticket, rating_form=form)


@login_required
@require_GET
def attachment_download(request, pk):
    """Send one stored file of a ticket the person may see, always as a download."""
    user = request.user
    attachment = Attachment.objects.visible_to(user).filter(pk=pk).first()
    if attachment is None:
        raise Http404(_("No such file."))
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError):
        log.error("attachment %s: stored file %s is missing", attachment.pk, attachment.file.name)
        raise Http404(_("No such file.")) from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# --- knowledge-base suggestions --------------------------------------------------


def _article_json(article) -> dict:
    if isinstance(article, dict):
        get = article.get
    else:

        def get(name, default=""):
            value = getattr(article, name, default)
            return value() if callable(value) else value

    url = get("url", "") or get("get_absolute_url", "")
    return {
        "title": str(get("title", "") or ""),
        "url": str(url or ""),
        "summary": str(get("summary", "") or ""),
    }


SUGGEST_BODY_MAX = 4096


def _suggest_query(request) -> tuple[str, str]:
    """The draft text and token of a suggestion lookup: a JSON body {"q": …, "token": …}."""
    if len(request.body) > SUGGEST_BODY_MAX:
        return "", ""
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    q, token = data.get("q"), data.get("token")
    return (q if isinstance(q, str) else ""), (token if isinstance(token, str) else "")


@login_required
@require_POST
def suggest(request):
    """Return {"articles": [{"title", "url", "summary"}], "token"} that may answer the draft.

    A POST with CSRF and a JSON body {"q": draft, "token": …}: the draft of a
    request is never in a URL, so never in an access log. What was shown is
    recorded for the knowledge base's deflection figures; the token comes
    back with the next query and with the filed request, so the dashboard
    can tell which articles did not help.
    """
    query, given_token = _suggest_query(request)
    text = " ".join(query.split())[:200]
    articles = []
    token = ""
    if len(text) >= 3:
        try:
            found = list(suggest_articles(request.user, text, SUGGEST_LIMIT))[:SUGGEST_LIMIT]
            ids = [a["id"] for a in found if isinstance(a, dict) and a.get("id")]
            if ids:
                token = deflection.record_suggestions_shown(
                    request.user, ids, text, token=given_token[:32] or None
                )
            articles = [_article_json(a) for a in found]
            if token:
                for article in articles:
                    article["url"] = f"{article['url']}?s={token}"
        except Exception:
            # Suggestions are a convenience; filing must work without them.
            log.exception("knowledge-base suggestions failed")
            articles = []
    return JsonResponse({"articles": articles, "token": token})


def _record_filed_anyway(token: str, ticket) -> None:
    if not token:
        return
    try:
        deflection.record_filed_anyway(token[:32], ticket)
    except Exception:  # figures must never stop a request from being filed
        log.exception("could not record deflection for %s", ticket.reference)


# --- delegation ----------------------------------------------------------------


def _directed_or_404(user) -> list[Institution]:
    institutions = list(
        Institution.objects.filter(pk__in=directed_institution_ids(user)).order_by("name")
    )
    if not institutions:
        # Delegates and everyone else: the page does not exist for them.
        raise Http404(_("No such page."))
    return institutions


def _render_delegations(request, institutions, form):
    ids = [i.pk for i in institutions]
    now = timezone.now()
    rows = list(
        Delegation.objects.filter(institution_id__in=ids)
        .select_related("delegate", "granted_by", "revoked_by", "institution")
        .order_by("-valid_from", "-id")[:200]
    )
    current = [d for d in rows if d.revoked_at is None and d.valid_until > now]
    past = [d for d in rows if d not in current]
    active_ids = {(d.institution_id, d.delegate_id) for d in current if d.valid_from <= now}
    colleagues = list(
        Membership.objects.filter(institution_id__in=ids, user__is_active=True)
        .exclude(user=request.user)
        .select_related("user", "institution")
        .order_by("institution__name", "user__full_name", "user__email")
    )
    for membership in colleagues:
        membership.has_delegation = (membership.institution_id, membership.user_id) in active_ids
    context = {
        "institutions": institutions,
        "form": form,
        "current": current,
        "past": past,
        "colleagues": colleagues,
        "now": now,
    }
    return render(request, "portal/delegations.html", context)


@login_required
@require_GET
def delegation_list(request):
    """Colleagues, the grant form, and current and past delegations."""
    institutions = _directed_or_404(request.user)
    form = DelegationForm(actor=request.user, institutions=institutions)
    return _render_delegations(request, institutions, form)


@login_required
@require_POST
def delegation_grant(request):
    """Grant a colleague the institution's portal rights for a period."""
    institutions = _directed_or_404(request.user)
    form = DelegationForm(request.POST, actor=request.user, institutions=institutions)
    if form.is_valid():
        data = form.cleaned_data
        valid_from = data["valid_from"]
        now = timezone.now()
        # The form opens with "now" (to the minute) as the start; a director
        # who took a few minutes to fill it in means "from now", not an error.
        if now - FORM_START_SLACK <= valid_from < now:
            valid_from = now
        try:
            delegation = account_services.grant_delegation(
                actor=request.user,
                institution=data["institution"],
                delegate=data["delegate"],
                valid_from=valid_from,
                valid_until=data["valid_until"],
                rights=data["rights"],
                note=data.get("note") or "",
            )
        except DomainError as error:
            _apply_domain_error(form, error, {})
        else:
            messages.success(
                request,
                _("%(who)s has the rights from %(start)s until %(end)s.")
                % {
                    "who": delegation.delegate,
                    "start": timezone.localtime(delegation.valid_from).strftime("%d.%m.%Y %H:%M"),
                    "end": timezone.localtime(delegation.valid_until).strftime("%d.%m.%Y %H:%M"),
                },
            )
            return redirect("portal:delegations")
    return _render_delegations(request, institutions, form)


@login_required
@require_http_methods(["GET", "POST"])
def delegation_revoke(request, pk):
    """End a delegation at once, after a confirmation page (no JavaScript needed)."""
    institutions = _directed_or_404(request.user)
    delegation = (
        Delegation.objects.filter(pk=pk, institution_id__in=[i.pk for i in institutions])
        .select_related("delegate", "institution")
        .first()
    )
    if delegation is None:
        raise Http404(_("No such delegation."))
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        return render(
            request,
            "portal/delegation_revoke.html",
            {"delegation": delegation, "institutions": institutions},
        )
    try:
        account_services.revoke_delegation(actor=request.user, delegation=delegation)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request, _("The rights of %(who)s were revoked.") % {"who": delegation.delegate}
        )
    return redirect("portal:delegations")


# --- rating from the resolution mail's link (no login) -----------------------------------

RATING_LINK_POSTS = 20
RATING_LINK_WINDOW = 3600


def _rating_link_allowed(request) -> bool:
    """At most RATING_LINK_POSTS ratings from one address per hour: no brute force, no flood."""
    key = "rating-link:{}".format(request.META.get("REMOTE_ADDR", "-"))
    count = cache.get_or_set(key, 0, RATING_LINK_WINDOW)
    if count >= RATING_LINK_POSTS:
        return False
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, RATING_LINK_WINDOW)
    return True


@require_http_methods(["GET", "POST"])
def rate_from_link(request, token):
    """The small public page behind the resolution mail's "rate" link.

    The signed token (tickets.rating_links) names the ticket and the address
    the mail went to; the page shows only the reference and the form. CSRF
    protection applies as everywhere; posts are limited per address.
    """
    try:
        ticket_id, address = rating_links.read_token(token)
    except DomainError as error:
        return render(request, "portal/rate_link.html", {"error": str(error)}, status=400)
    ticket = Ticket.objects.filter(pk=ticket_id).first()
    if ticket is None:
        return render(
            request,
            "portal/rate_link.html",
            {"error": _("This rating link is not valid.")},
            status=404,
        )
    form = RatingForm(request.POST or None, initial={"score": ticket.satisfaction})
    status = 200
    if request.method == "POST":
        if not _rating_link_allowed(request):
            return render(
                request,
                "portal/rate_link.html",
                {"error": _("Too many attempts. Try again in an hour."), "ticket": ticket},
                status=429,
            )
        if form.is_valid():
            try:
                actions.rate_from_link(
                    ticket=ticket,
                    address=address,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data.get("comment") or "",
                )
            except DomainError as error:
                if error.field is None:
                    return render(
                        request,
                        "portal/rate_link.html",
                        {"error": str(error), "ticket": ticket},
                        status=400,
                    )
                form.add_error(error.field, str(error))
            else:
                return render(request, "portal/rate_link.html", {"ticket": ticket, "done": True})
        status = 400
    return render(request, "portal/rate_link.html", {"ticket": ticket, "form": form}, status=status)
