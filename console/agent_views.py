"""The agent's working day in the console: own canned replies, macros, signatures,
notifications, @mentions and time spent.

Reads start from Ticket.objects.visible_to(request.user); writes are calls
into tickets.actions. The ticket page (console/views.py) asks
``ticket_extras`` for what it shows of these.
"""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AgentProfile
from console.forms import (
    AgentSettingsForm,
    MacroApplyForm,
    PersonalCannedForm,
    PersonalMacroForm,
)
from helpdesk.bounds import parse_id
from helpdesk.errors import DomainError
from kb.models import Article, Visibility
from kb.models import Status as ArticleStatus
from tickets import actions, notifications, placeholders, policies
from tickets.models import AgentSettings, CannedResponse, Macro, Message, Notification, Ticket

NOTIFICATIONS_PAGE = 100
MENTION_CANDIDATES = 10
MENTION_QUERY_MAX = 64


def _agent_required(view):
    # console.views.agent_required, repeated here so that this module does
    # not depend on the big views module (and the reverse import stays one-way).
    @functools.wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not policies.is_agent(request.user):
            raise PermissionDenied(_("The console is for support staff."))
        return view(request, *args, **kwargs)

    return wrapped


def _ticket(request, reference) -> Ticket:
    ticket = (
        Ticket.objects.visible_to(request.user)
        .select_related("institution", "requester", "competence", "assignee")
        .filter(reference=reference)
        .first()
    )
    if ticket is None:
        raise Http404(_("No such request, or you may not see it."))
    return ticket


# --- placeholders ----------------------------------------------------------------------


def kb_link_resolver():
    """Return kb_link(slug) → the absolute address of a published article that
    institution staff may open (a reply goes to them), or None."""
    found: dict[str, str | None] = {}

    def kb_link(slug: str) -> str | None:
        if slug not in found:
            article = (
                Article.objects.filter(
                    slug=slug,
                    status=ArticleStatus.PUBLISHED,
                    visibility__in=[Visibility.PUBLIC, Visibility.STAFF],
                )
                .order_by("language")  # "bg" before "en"
                .first()
            )
            found[slug] = (
                f"{settings.SITE_URL}{article.get_absolute_url()}" if article is not None else None
            )
        return found[slug]

    return kb_link


def canned_for(ticket: Ticket, user) -> list[tuple[CannedResponse, placeholders.Filled]]:
    """The shared canned replies of the ticket's competence and the user's own, filled."""
    values = placeholders.values_for(ticket, user)
    kb_link = kb_link_resolver()
    rows = CannedResponse.objects.filter(
        (
            Q(owner__isnull=True)
            & (Q(competence__isnull=True) | Q(competence_id=ticket.competence_id))
        )
        | Q(owner=user),
        is_active=True,
    ).order_by("owner_id", "order", "title")
    return [(r, placeholders.fill(r.body, values, kb_link=kb_link)) for r in rows]


def ticket_extras(ticket: Ticket, user) -> dict:
    """What the ticket page shows of macros and time spent (two queries)."""
    macros = list(actions.macros_for(user).select_related("competence"))
    by_agent = list(
        Message.objects.filter(ticket=ticket, minutes_spent__isnull=False)
        .values("author__full_name", "author__email")
        .annotate(minutes=Sum("minutes_spent"), entries=Count("id"))
        .order_by("-minutes")
    )
    return {
        "macros": macros,
        "macro_form": MacroApplyForm(),
        "time_by_agent": by_agent,
        "time_total": sum(r["minutes"] for r in by_agent),
    }


def mention_feedback(request, message: Message) -> None:
    """Tell the writer of a note whom their @mentions reached, and whom they did not."""
    told = getattr(message, "mentioned", [])
    refused = getattr(message, "mention_refused", [])
    if told:
        messages.info(
            request,
            _("Notified: %(names)s") % {"names": ", ".join(str(u) for u in told)},
        )
    if refused:
        messages.warning(
            request,
            _("Nobody was notified for %(handles)s: they may not see this request.")
            % {"handles": ", ".join(f"@{h}" for h in refused)},
        )


# --- macros ----------------------------------------------------------------------------


@_agent_required
@require_POST
def macro_apply(request, reference):
    """Apply one macro to the request: text, status, priority, competence, assignee at once."""
    ticket = _ticket(request, reference)
    form = MacroApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a macro."))
        return redirect("console:ticket", ticket.reference)
    macro = actions.macros_for(request.user).filter(pk=form.cleaned_data["macro"]).first()
    if macro is None:
        messages.error(request, _("This macro is not in use."))
        return redirect("console:ticket", ticket.reference)
    try:
        result = actions.apply_macro(
            ticket=ticket,
            actor=request.user,
            macro=macro,
            kb_link=kb_link_resolver(),
            minutes=form.cleaned_data.get("minutes"),
        )
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(
            request,
            _("Macro “%(title)s” applied: %(changes)s")
            % {"title": macro.title, "changes": "; ".join(result.changes)},
        )
        if result.message is not None:
            mention_feedback(request, result.message)
    return redirect("console:ticket", ticket.reference)


# --- my canned replies -----------------------------------------------------------------


@_agent_required
@require_http_methods(["GET", "POST"])
def my_replies(request):
    """The agent's own canned replies: the list and a form to add one."""
    form = PersonalCannedForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.save_personal_canned(actor=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, _("Canned reply saved."))
                return redirect("console:my_replies")
    return _replies_page(request, form=form)


def _replies_page(request, form=None, macro_form=None):
    form = form or PersonalCannedForm()
    macro_form = macro_form or PersonalMacroForm(initial={"reply_kind": "public"})
    return render(
        request,
        "console/agent/replies.html",
        {
            "form": form,
            "macro_form": macro_form,
            "mine": CannedResponse.objects.filter(owner=request.user).order_by("title"),
            "my_macros": Macro.objects.filter(owner=request.user)
            .select_related("competence")
            .order_by("title"),
        },
        status=400 if form.errors or macro_form.errors else 200,
    )


@_agent_required
@require_POST
def my_macro_add(request):
    """Add one of the agent's own macros (shown on the same page as the canned replies)."""
    form = PersonalMacroForm(request.POST)
    if form.is_valid():
        try:
            actions.save_personal_macro(actor=request.user, values=form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Macro saved."))
            return redirect("console:my_replies")
    return _replies_page(request, macro_form=form)


@_agent_required
@require_POST
def my_macro_delete(request, pk):
    macro = Macro.objects.filter(owner=request.user, pk=pk).first()
    if macro is None:
        raise Http404(_("No such macro."))
    actions.delete_personal_macro(actor=request.user, macro=macro)
    messages.success(request, _("Macro deleted."))
    return redirect("console:my_replies")


def _own_canned(request, pk) -> CannedResponse:
    canned = CannedResponse.objects.filter(owner=request.user, pk=pk).first()
    if canned is None:
        raise Http404(_("No such canned reply."))
    return canned


@_agent_required
@require_http_methods(["GET", "POST"])
def my_reply_edit(request, pk):
    canned = _own_canned(request, pk)
    form = PersonalCannedForm(
        request.POST or None, initial={"title": canned.title, "body": canned.body}
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_personal_canned(actor=request.user, canned=canned, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Canned reply saved."))
            return redirect("console:my_replies")
    return render(
        request,
        "console/agent/reply_edit.html",
        {"form": form, "canned": canned},
        status=400 if form.errors else 200,
    )


@_agent_required
@require_POST
def my_reply_delete(request, pk):
    actions.delete_personal_canned(actor=request.user, canned=_own_canned(request, pk))
    messages.success(request, _("Canned reply deleted."))
    return redirect("console:my_replies")


# --- signatures and notification choices -----------------------------------------------


@_agent_required
@require_http_methods(["GET", "POST"])
def my_settings(request):
    current = AgentSettings.objects.filter(user=request.user).first() or AgentSettings(
        user=request.user
    )
    initial = {
        name: getattr(current, name)
        for name in ("signature_bg", "signature_en", *actions.PREFERENCE_FIELDS)
    }
    form = AgentSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.save_agent_settings(
                actor=request.user,
                signature_bg=data["signature_bg"],
                signature_en=data["signature_en"],
                preferences={name: data[name] for name in actions.PREFERENCE_FIELDS},
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("console:my_settings")
    return render(
        request,
        "console/agent/settings.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


# --- notifications ---------------------------------------------------------------------


def _my_notifications(user):
    # Only about requests the person may still see: access that ended (another
    # region now) takes the notifications of those requests away too.
    return Notification.objects.filter(
        recipient=user, ticket__in=Ticket.objects.visible_to(user).values("pk")
    )


@_agent_required
@require_GET
def notification_list(request):
    rows = list(
        _my_notifications(request.user)
        .select_related("ticket", "actor")
        .order_by("-created_at", "-id")[:NOTIFICATIONS_PAGE]
    )
    return render(request, "console/agent/notifications.html", {"rows": rows})


@_agent_required
@require_POST
def notification_read(request):
    """Mark one notification (id=…) or all (all=1) read; go to its request when opened."""
    if request.POST.get("all"):
        actions.mark_notifications_read(actor=request.user)
        messages.success(request, _("All notifications marked read."))
        return redirect("console:notifications")
    pk = parse_id(request.POST.get("id", ""))
    if pk is None:
        return HttpResponseBadRequest(_("Choose a notification."))
    row = _my_notifications(request.user).select_related("ticket").filter(pk=pk).first()
    if row is None:
        raise Http404(_("No such notification."))
    actions.mark_notifications_read(actor=request.user, ids=[row.pk])
    if request.POST.get("open"):
        return redirect("console:ticket", row.ticket.reference)
    return redirect("console:notifications")


@_agent_required
@require_GET
def notification_count(request):
    return JsonResponse({"unread": notifications.unread_count(request.user)})


# --- @mentions -------------------------------------------------------------------------


@_agent_required
@require_GET
def mention_candidates(request, reference):
    """Agents who may see the request whose handle or name starts with ?q=, as JSON."""
    ticket = _ticket(request, reference)
    query = (request.GET.get("q") or "").strip().lstrip("@")[:MENTION_QUERY_MAX]
    people = AgentProfile.objects.filter(user__is_active=True).select_related("user")
    if query:
        people = people.filter(
            Q(user__email__istartswith=query) | Q(user__full_name__icontains=query)
        )
    out = []
    for profile in people.order_by("user__full_name", "user__email")[: MENTION_CANDIDATES * 3]:
        user = profile.user
        if user.pk == request.user.pk:
            continue
        if not Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists():
            continue
        out.append({"handle": user.email.rpartition("@")[0], "name": str(user)})
        if len(out) >= MENTION_CANDIDATES:
            break
    return JsonResponse({"agents": out})
