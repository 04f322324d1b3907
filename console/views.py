"""The agent console: queues, a ticket's page, actions, live fragments, attachments.

Every read starts from Ticket.objects.visible_to(request.user); every write
is a call into tickets.actions. Views only translate between HTTP and those.
"""

import functools
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import AgentProfile, Region, User
from console.agent_views import canned_for, mention_feedback
from console.agent_views import ticket_extras as agent_extras
from console.dashboard.charts import charts
from console.dashboard.figures import FIGURE_REPORTS, collect_figures_cached
from console.dashboard.queries import REPORTS, Scope, collect_cached
from console.dashboard.reports import ALL_REPORTS, csv_response, xlsx_response
from console.dashboard.time_spent import time_spent
from console.filters import (
    MAIN_FILTERS,
    QUEUE_KEYS,
    QUEUES,
    ROW_FIELDS,
    ROW_RELATED,
    SORT_CHOICES,
    SORTS,
    TicketFilter,
    agent_options,
    keyset_page,
    queue_counts,
    queue_queryset,
    row_prefetch,
    unassigned_by_competence,
)
from console.forms import (
    AssignForm,
    BulkForm,
    CompetenceForm,
    EscalateForm,
    IncidentForm,
    PriorityForm,
    ReferenceForm,
    ReplyForm,
    SavedFilterForm,
    StatusForm,
)
from console.rows import row_html, row_words, rows_html
from console.ticket_extras import ticket_extras
from helpdesk.bounds import parse_id
from helpdesk.dbrouter import reads_from_replica
from helpdesk.errors import Conflict, DomainError
from tickets import actions, history, policies
from tickets.models import (
    OPEN_STATUSES,
    Attachment,
    Competence,
    Message,
    ReportSubscription,
    SavedFilter,
    Status,
    Ticket,
    Tier,
)

log = logging.getLogger(__name__)

COUNTS_SECONDS = 15
ALL_COUNT_SECONDS = 300
OTHER_OPEN_LIMIT = 10
CHILDREN_LIMIT = 50
EVENTS_LIMIT = 200
# Query parameters that are not filters: they must not reach the FilterSet
# and are dropped when a filter is saved.
NON_FILTER_PARAMS = ("cursor", "sort", "page")
# What a saved filter forgets: where in the list one was.
NOT_SAVED_PARAMS = ("cursor", "page")


def agent_required(view):
    """Only support staff (and administrators) use the console."""

    @functools.wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not policies.is_agent(request.user):
            raise PermissionDenied(_("The console is for support staff."))
        return view(request, *args, **kwargs)

    return wrapped


def _visible(request):
    return Ticket.objects.visible_to(request.user)


def _get_ticket(request, reference) -> Ticket:
    ticket = (
        _visible(request)
        .select_related(
            "institution__region",
            "competence",
            "assignee",
            "requester",
            "region",
            "parent",
            "merged_into",
        )
        .filter(reference=reference)
        .first()
    )
    if ticket is None:
        raise Http404(_("No such request, or you may not see it."))
    return ticket


def _agents_for(ticket: Ticket | None, user):
    """Return the agents a ticket (or the user's lists) can be given to."""
    agents = AgentProfile.objects.filter(user__is_active=True).select_related("user")
    region_id = ticket.region_id if ticket is not None else getattr(user.agent, "region_id", None)
    if region_id:
        agents = agents.filter(Q(region_id=region_id) | Q(tier=AgentProfile.Tier.CENTRAL))
    elif ticket is not None:
        agents = agents.filter(tier=AgentProfile.Tier.CENTRAL)
    return list(agents.order_by("tier", "user__full_name"))


def _cached_counts(user, fresh=False, fresh_all=False) -> dict[str, int]:
    """The queue counters: the open queues' counted when `fresh`, "all" when `fresh_all`.

    "All" counts the person's whole history, which grows without end (35 000
    requests for one region at 1 000 000); the page takes it from the cache
    (ALL_COUNT_SECONDS) and counts only the open queues afresh, so a queue page
    costs the same at any size. The live refresh (counts(), at most every
    10 s while events arrive) counts everything, "all" included.
    """
    key = f"console:counts:{user.pk}"
    counts = None if fresh else cache.get(key)
    if counts is None:
        all_key = f"console:count-all:{user.pk}"
        everything = None if fresh_all else cache.get(all_key)
        if everything is None:
            counts = queue_counts(user)  # one query, "all" too
            cache.set(all_key, counts["all"], ALL_COUNT_SECONDS)
        else:
            counts = {**queue_counts(user, everything=False), "all": everything}
        cache.set(key, counts, COUNTS_SECONDS)
    return counts


def _forget_counts(user) -> None:
    cache.delete_many([f"console:counts:{user.pk}", f"console:count-all:{user.pk}"])


def _filter_params(query: QueryDict) -> QueryDict:
    params = query.copy()
    for name in NON_FILTER_PARAMS:
        params.pop(name, None)
    return params


# --- queues ------------------------------------------------------------------------------


@agent_required
@require_GET
def queue(request, key="mine"):
    """A queue with filters, search, sort and a keyset-paged table."""
    if key not in QUEUE_KEYS:
        raise Http404(_("No such queue."))
    user = request.user
    current = QUEUE_KEYS[key]
    params = _filter_params(request.GET)
    agents = agent_options(user)
    filterset = TicketFilter(params, queryset=queue_queryset(key, user), user=user, agents=agents)
    sort = request.GET.get("sort") or current.default_sort
    if sort not in SORTS:
        sort = current.default_sort
    rows = (
        filterset.qs.select_related(*ROW_RELATED)
        .only(*ROW_FIELDS)
        .prefetch_related(*row_prefetch())
        if filterset.is_valid()
        else Ticket.objects.none()
    )
    page = keyset_page(rows, sort, request.GET.get("cursor", ""))
    by_competence = []
    if key == "unassigned":
        competences = {c.pk: c for c in Competence.objects.all()}
        by_competence = [
            (competences.get(cid), n) for cid, n in unassigned_by_competence(user) if n
        ]
    base_query = params.urlencode()
    advanced = [f for f in filterset.form if f.name not in MAIN_FILTERS]
    advanced_active = any(params.get(f.name) for f in advanced)
    next_query = ""
    if page.has_next:
        following = params.copy()  # keeps repeated keys (status=new&status=open)
        following["sort"] = sort
        following["cursor"] = page.next_cursor
        next_query = following.urlencode()
    return render(
        request,
        "console/queue.html",
        {
            "queues": QUEUES,
            "queue": current,
            # Counted afresh on a queue's first page, where people look after
            # acting; paging on within a list reuses the count for a moment.
            "counts": _cached_counts(user, fresh=not request.GET.get("cursor")),
            "filter": filterset,
            "main_fields": [filterset.form[name] for name in MAIN_FILTERS],
            "advanced_fields": advanced,
            "advanced_active": advanced_active,
            "page": page,
            "sort": sort,
            "sort_choices": SORT_CHOICES,
            "is_first_page": not request.GET.get("cursor"),
            "base_query": base_query,
            "next_query": next_query,
            "saved_filters": SavedFilter.objects.filter(owner=user),
            # Its own ids (bulk_status, ...): the filter form above has id_status.
            "bulk_form": BulkForm(agents=agents, auto_id="bulk_%s"),
            "by_competence": by_competence,
            "rows_html": rows_html(page.rows),
        },
    )


@agent_required
@require_GET
def counts(request):
    """The queue counts as JSON, counted afresh (the page asks at most every few seconds)."""
    return JsonResponse(_cached_counts(request.user, fresh=True, fresh_all=True))


@agent_required
@require_GET
def row(request, pk):
    """One table row for a live update: 200 with the row if it belongs to the list, else 204."""
    key = request.GET.get("queue", "all")
    if key not in QUEUE_KEYS:
        key = "all"
    params = _filter_params(request.GET)
    params.pop("queue", None)
    filterset = TicketFilter(params, queryset=queue_queryset(key, request.user), user=request.user)
    if not filterset.is_valid():
        return HttpResponse(status=204)
    ticket = (
        filterset.qs.select_related(*ROW_RELATED)
        .only(*ROW_FIELDS)
        .prefetch_related(*row_prefetch())
        .filter(pk=pk)
        .first()
    )
    if ticket is None:
        return HttpResponse(status=204)
    return HttpResponse(row_html(ticket, row_words(), live=True))


@agent_required
@require_POST
def bulk(request):
    """Apply one action to the selected rows, each through its service."""
    user = request.user
    form = BulkForm(request.POST, agents=agent_options(user))
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        # Only a page of this site: "//evil.example/x" starts with "/" too.
        back = reverse("console:queue")
    if not form.is_valid():
        errors = "; ".join(e for errs in form.errors.values() for e in errs)
        messages.error(request, _("Nothing was changed: %(errors)s") % {"errors": errors})
        return redirect(back)
    data = form.cleaned_data
    tickets = list(_visible(request).filter(pk__in=data["ids"]).order_by("pk"))
    action = data["action"]
    closing = action == "close" or (action == "status" and data["status"] == Status.CLOSED)
    if closing and request.POST.get("confirm") != "yes":
        # Closing is final (a new message opens a follow-up): say what will
        # be closed and ask once more, without needing JavaScript.
        return render(
            request,
            "console/bulk_confirm.html",
            {"tickets": tickets, "data": data, "back": back, **_confirm_context(data)},
        )
    value = None
    if action == "assign":
        value = User.objects.filter(pk=data["assignee"], is_active=True).first()
    elif action == "status":
        value = data["status"]
    elif action == "priority":
        value = data["priority"]
    elif action in ("tag", "untag"):
        value = data["tags"]
    try:
        result = actions.bulk_update(
            tickets=tickets, actor=user, action=action, value=value, text=data.get("text", "")
        )
    except DomainError as error:
        messages.error(request, _("Nothing was changed: %(errors)s") % {"errors": error.message})
        return redirect(back)
    if result.done:
        messages.success(
            request,
            _("Done for %(n)s requests: %(refs)s")
            % {
                "n": len(result.done),
                "refs": ", ".join(result.done[:20]),
            },
        )
    for reference, reason in result.failed[:20]:
        messages.error(request, f"{reference}: {reason}")
    missing = len(data["ids"]) - len(tickets)
    if missing:
        messages.error(
            request, _("%(n)s of the chosen requests are not yours to see.") % {"n": missing}
        )
    _forget_counts(user)
    return redirect(back)


def _confirm_context(data) -> dict:
    """The bulk form's values again, as hidden fields of the confirmation."""
    return {
        "hidden": [("ids", i) for i in data["ids"]]
        + [
            (name, data.get(name))
            for name in ("action", "status", "priority", "assignee", "text", "tags")
            if data.get(name) not in (None, "")
        ]
    }


@agent_required
@require_POST
def saved_filter_save(request):
    form = SavedFilterForm(request.POST)
    key = request.POST.get("queue", "all")
    params = QueryDict(request.POST.get("query", "")).copy()
    for name in NOT_SAVED_PARAMS:
        params.pop(name, None)
    query = params.urlencode()[:1000]
    if form.is_valid() and key in QUEUE_KEYS:
        SavedFilter.objects.update_or_create(
            owner=request.user,
            name=form.cleaned_data["name"],
            defaults={"queue": key, "query": query},
        )
        messages.success(request, _("Filter saved."))
    else:
        messages.error(request, _("Give the filter a name."))
    url = reverse("console:queue_key", args=[key if key in QUEUE_KEYS else "all"])
    return redirect(f"{url}?{query}" if query else url)


@agent_required
@require_POST
def saved_filter_delete(request, pk):
    SavedFilter.objects.filter(owner=request.user, pk=pk).delete()
    messages.success(request, _("Filter removed."))
    return redirect("console:queue")


@agent_required
@require_GET
def saved_filter_open(request, pk):
    saved = get_object_or_404(SavedFilter, owner=request.user, pk=pk)
    url = reverse("console:queue_key", args=[saved.queue if saved.queue in QUEUE_KEYS else "all"])
    return redirect(f"{url}?{saved.query}" if saved.query else url)


# --- a ticket's page --------------------------------------------------------------------


def _kb_search_url() -> str:
    try:
        return reverse("kb:agent_search")
    except NoReverseMatch:
        return ""


def _conversation(ticket: Ticket, after: int | None = None):
    """Return the messages (with their attachments) in order, in two queries."""
    messages_qs = Message.objects.filter(ticket=ticket).select_related("author")
    files = Attachment.objects.filter(ticket=ticket)
    if after is not None:
        messages_qs = messages_qs.filter(pk__gt=after)
        files = files.filter(message_id__gt=after)
    items = list(messages_qs.order_by("created_at", "id"))
    by_message: dict[int | None, list[Attachment]] = {}
    for attachment in files.order_by("created_at", "id"):
        by_message.setdefault(attachment.message_id, []).append(attachment)
    for message in items:
        message.files = by_message.get(message.pk, [])
    return items, by_message.get(None, [])


def _ticket_context(request, ticket: Ticket, reply_form=None, stale=None) -> dict:
    user = request.user
    visible = _visible(request)
    conversation, loose_files = _conversation(ticket)
    other_open = []
    if ticket.institution_id:
        other_open = list(
            visible.filter(institution_id=ticket.institution_id, status__in=OPEN_STATUSES)
            .exclude(pk=ticket.pk)
            .only("reference", "subject", "status", "created_at")
            .order_by("-created_at")[: OTHER_OPEN_LIMIT + 1]
        )
    related = list(
        visible.filter(related=ticket).only("reference", "subject", "status").order_by("-pk")[:20]
    )
    children = []
    children_open = 0
    if ticket.is_incident:
        children_qs = visible.filter(parent=ticket)
        children = list(
            children_qs.select_related("institution")
            .only("reference", "subject", "status", "institution__code", "institution__name")
            .order_by("-pk")[: CHILDREN_LIMIT + 1]
        )
        children_open = children_qs.filter(status__in=OPEN_STATUSES).count()
    merged_from = list(visible.filter(merged_into=ticket).only("reference").order_by("pk")[:20])
    events = history.describe(
        ticket.events.select_related("actor").order_by("-created_at", "-id")[:EVENTS_LIMIT]
    )
    canned = canned_for(ticket, user)
    agents = _agents_for(ticket, user)
    if reply_form is None:
        reply_form = ReplyForm(initial={"last_message_id": ticket.last_message_id or 0})
    now = timezone.now()
    return {
        "ticket": ticket,
        "conversation": conversation,
        "loose_files": loose_files,
        "other_open": other_open[:OTHER_OPEN_LIMIT],
        "other_open_more": len(other_open) > OTHER_OPEN_LIMIT,
        "related": related,
        "children": children[:CHILDREN_LIMIT],
        "children_more": len(children) > CHILDREN_LIMIT,
        "children_open": children_open,
        "merged_from": merged_from,
        "events": events,
        "canned": canned,
        "reply_form": reply_form,
        "stale": stale,
        "status_form": StatusForm(initial={"status": ticket.status}),
        "priority_form": PriorityForm(initial={"priority": ticket.priority}),
        "competence_form": CompetenceForm(initial={"competence": ticket.competence_id}),
        "assign_form": AssignForm(agents=agents, initial={"assignee": ticket.assignee_id}),
        "escalate_form": EscalateForm(
            initial={"tier": Tier.REGIONAL if ticket.tier == Tier.CENTRAL else Tier.CENTRAL}
        ),
        "reference_form": ReferenceForm(),
        "kb_search_url": _kb_search_url(),
        **ticket_extras(ticket),
        "now": now,
        "first_response_overdue": ticket.first_response_at is None
        and ticket.first_response_due is not None
        and ticket.first_response_due < now,
        "resolution_overdue": ticket.is_open
        and ticket.resolution_due is not None
        and ticket.resolution_due < now,
        **agent_extras(ticket, user),
    }


@agent_required
@require_GET
def ticket_page(request, reference):
    """A ticket with its conversation, facts, clocks, history and every action."""
    ticket = _get_ticket(request, reference)
    if ticket.merged_into_id:
        # A merged reference keeps working: it leads to where the conversation went.
        target = _visible(request).filter(pk=ticket.merged_into_id).only("reference").first()
        if target is not None:
            messages.info(
                request,
                _("%(old)s was merged into %(new)s.")
                % {"old": ticket.reference, "new": target.reference},
            )
            return redirect("console:ticket", target.reference)
    return render(request, "console/ticket.html", _ticket_context(request, ticket))


@agent_required
@require_GET
def ticket_messages(request, reference):
    """The messages after ?after=<id>, as list items, for a live update of an open page."""
    ticket = _get_ticket(request, reference)
    after = parse_id(request.GET.get("after", "0")) or 0
    conversation, _loose = _conversation(ticket, after=after)
    return render(
        request, "console/_messages.html", {"conversation": conversation, "ticket": ticket}
    )


def _back(ticket):
    return redirect("console:ticket", ticket.reference)


def _domain_error(request, error: DomainError):
    messages.error(request, str(error.message))


@agent_required
@require_POST
def reply(request, reference):
    """A public reply or an internal note; warns when a newer message arrived meanwhile."""
    ticket = _get_ticket(request, reference)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(
            request,
            "console/ticket.html",
            _ticket_context(request, ticket, reply_form=form),
            status=400,
        )
    data = form.cleaned_data
    seen = data.get("last_message_id")
    if (
        seen is not None
        and ticket.last_message_id
        and ticket.last_message_id > seen
        and not data.get("confirm_stale")
    ):
        newer = Message.objects.filter(ticket=ticket, pk__gt=seen).select_related("author")
        return render(
            request,
            "console/ticket.html",
            _ticket_context(request, ticket, reply_form=form, stale=list(newer[:20])),
            status=409,
        )
    kind = data["kind"]
    try:
        if ticket.is_incident and data.get("to_children") and kind == Message.Kind.PUBLIC:
            result = actions.reply_to_incident(
                incident=ticket,
                actor=request.user,
                text=data["text"],
                files=data["files"],
                new_status=data.get("new_status") or None,
            )
            messages.success(
                request,
                _("Reply sent here and to %(n)s linked requests.") % {"n": len(result.done)},
            )
            for ref, reason in result.failed[:20]:
                messages.error(request, f"{ref}: {reason}")
        else:
            message = actions.add_message(
                ticket=ticket,
                actor=request.user,
                text=data["text"],
                kind=kind,
                channel="console",
                files=data["files"],
                new_status=data.get("new_status") or None,
                minutes=data.get("minutes"),
            )
            messages.success(
                request,
                _("Internal note saved.") if kind == Message.Kind.INTERNAL else _("Reply sent."),
            )
            mention_feedback(request, message)
    except DomainError as error:
        _domain_error(request, error)
        return render(
            request,
            "console/ticket.html",
            _ticket_context(request, ticket, reply_form=form),
            status=400,
        )
    return _back(ticket)


def _simple_action(form_class, apply):
    """Build a POST view: validate `form_class`, call apply(request, ticket, data)."""

    @agent_required
    @require_POST
    def view(request, reference):
        ticket = _get_ticket(request, reference)
        form = form_class(request.POST)
        if not form.is_valid():
            errors = "; ".join(e for errs in form.errors.values() for e in errs)
            messages.error(request, errors)
            return _back(ticket)
        try:
            response = apply(request, ticket, form.cleaned_data)
        except DomainError as error:
            _domain_error(request, error)
            return _back(ticket)
        return response or _back(ticket)

    return view


def _apply_status(request, ticket, data):
    if ticket.is_incident and data.get("with_children"):
        result = actions.change_status_with_children(
            ticket=ticket, actor=request.user, status=data["status"], reason=data["reason"]
        )
        messages.success(
            request,
            _("Status changed here and in %(n)s linked requests.") % {"n": len(result.done)},
        )
        for ref, reason in result.failed[:20]:
            messages.error(request, f"{ref}: {reason}")
    else:
        actions.change_status(
            ticket=ticket, actor=request.user, status=data["status"], reason=data["reason"]
        )
        messages.success(request, _("Status changed."))


def _apply_priority(request, ticket, data):
    actions.change_priority(ticket=ticket, actor=request.user, priority=data["priority"])
    messages.success(request, _("Priority changed."))


def _apply_competence(request, ticket, data):
    actions.change_competence(
        ticket=ticket, actor=request.user, competence=data["competence"], reroute=data["reroute"]
    )
    messages.success(request, _("Competence changed."))


def _apply_escalate(request, ticket, data):
    actions.escalate(ticket=ticket, actor=request.user, tier=data["tier"], reason=data["reason"])
    messages.success(request, _("The request moved to another tier."))


def _other(request, data) -> Ticket:
    other = _visible(request).filter(reference=data["reference"]).first()
    if other is None:
        raise DomainError(
            _("There is no request %(ref)s you may see.") % {"ref": data["reference"]}
        )
    return other


def _apply_link(request, ticket, data):
    actions.link_related(ticket=ticket, other=_other(request, data), actor=request.user)
    messages.success(request, _("Linked."))


def _apply_unlink(request, ticket, data):
    actions.unlink_related(ticket=ticket, other=_other(request, data), actor=request.user)
    messages.success(request, _("Link removed."))


def _apply_merge(request, ticket, data):
    target = _other(request, data)
    if request.POST.get("confirm") != "yes":
        # A merge cannot be undone: show both requests and ask once more
        # (the page's script asks in a dialog instead and skips this page).
        return render(request, "console/merge_confirm.html", {"ticket": ticket, "target": target})
    target = actions.merge(source=ticket, target=target, actor=request.user)
    messages.success(
        request,
        _("%(old)s was merged into %(new)s; its requester was told.")
        % {"old": ticket.reference, "new": target.reference},
    )
    return redirect("console:ticket", target.reference)


def _apply_incident(request, ticket, data):
    actions.set_incident(ticket=ticket, actor=request.user, is_incident=data["is_incident"])
    messages.success(
        request,
        _("Marked as a mass incident.") if data["is_incident"] else _("No longer an incident."),
    )


def _apply_incident_link(request, ticket, data):
    """Link this ticket to the incident named by reference."""
    actions.link_to_incident(ticket=ticket, incident=_other(request, data), actor=request.user)
    messages.success(request, _("Linked to the incident."))


def _apply_incident_add(request, ticket, data):
    """Link the ticket named by reference to this incident."""
    actions.link_to_incident(ticket=_other(request, data), incident=ticket, actor=request.user)
    messages.success(request, _("%(ref)s linked to this incident.") % {"ref": data["reference"]})


def _apply_incident_unlink(request, ticket, data):
    other = _other(request, data)
    actions.link_to_incident(ticket=other, incident=None, actor=request.user)
    messages.success(request, _("%(ref)s unlinked.") % {"ref": other.reference})


status_view = _simple_action(StatusForm, _apply_status)
priority_view = _simple_action(PriorityForm, _apply_priority)
competence_view = _simple_action(CompetenceForm, _apply_competence)
escalate_view = _simple_action(EscalateForm, _apply_escalate)
link_view = _simple_action(ReferenceForm, _apply_link)
unlink_view = _simple_action(ReferenceForm, _apply_unlink)
merge_view = _simple_action(ReferenceForm, _apply_merge)
incident_view = _simple_action(IncidentForm, _apply_incident)
incident_link_view = _simple_action(ReferenceForm, _apply_incident_link)
incident_add_view = _simple_action(ReferenceForm, _apply_incident_add)
incident_unlink_view = _simple_action(ReferenceForm, _apply_incident_unlink)


@agent_required
@require_POST
def assign_view(request, reference):
    ticket = _get_ticket(request, reference)
    form = AssignForm(request.POST, agents=_agents_for(ticket, request.user))
    if not form.is_valid():
        messages.error(request, _("Choose someone from the list."))
        return _back(ticket)
    assignee = None
    if form.cleaned_data["assignee"]:
        assignee = User.objects.filter(pk=form.cleaned_data["assignee"]).first()
    try:
        actions.assign(
            ticket=ticket, actor=request.user, assignee=assignee, reason=form.cleaned_data["reason"]
        )
    except DomainError as error:
        _domain_error(request, error)
    else:
        messages.success(request, _("Assigned.") if assignee else _("Returned to the queue."))
    return _back(ticket)


@agent_required
@require_POST
def take_view(request, reference):
    ticket = _get_ticket(request, reference)
    try:
        actions.take(ticket=ticket, actor=request.user)
    except Conflict as error:
        messages.error(request, str(error.message))
    except DomainError as error:
        _domain_error(request, error)
    else:
        messages.success(request, _("The request is yours."))
    _forget_counts(request.user)
    return _back(ticket)


@agent_required
@require_POST
def release_view(request, reference):
    ticket = _get_ticket(request, reference)
    try:
        actions.assign(
            ticket=ticket,
            actor=request.user,
            assignee=None,
            reason=request.POST.get("reason", "")[:500],
        )
    except DomainError as error:
        _domain_error(request, error)
    else:
        messages.success(request, _("Returned to the queue."))
    _forget_counts(request.user)
    return _back(ticket)


# --- attachments ------------------------------------------------------------------------

INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf")


@agent_required
@require_GET
@xframe_options_sameorigin
def attachment(request, pk):
    """Send a file of a ticket the agent may see; images and PDFs inline on ?inline=1."""
    item = Attachment.objects.visible_to(request.user).filter(pk=pk).first()
    if item is None:
        raise Http404(_("No such file."))
    try:
        handle = item.file.open("rb")
    except OSError:
        log.error("attachment %s: stored file %s is missing", item.pk, item.file.name)
        raise Http404(_("No such file.")) from None
    inline = request.GET.get("inline") == "1" and item.content_type in INLINE_TYPES
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=item.original_name,
        content_type=item.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    if inline and item.content_type == "application/pdf":
        # Previewed in the ticket page's <object>: the browser's PDF viewer
        # needs no sandbox, and only our own pages may embed it.
        response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    else:
        # Everything else gets no rights at all, and is never embedded.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox; frame-ancestors 'none'"
    return response


# --- dashboard and reports ------------------------------------------------------------


@agent_required
@require_GET
@reads_from_replica
def dashboard(request):
    scope = Scope.from_request(request)
    data = collect_cached(scope)
    handoff_options = ""
    if policies.is_supervisor(request.user):
        agents = AgentProfile.objects.filter(user__is_active=True, kind=AgentProfile.Kind.EXPERT)
        if scope.region is not None:
            agents = agents.filter(region=scope.region)
        # Both pickers (from whom, to whom) list every expert in scope: a
        # national supervisor's page has hundreds. Rendered once, as plain
        # tuples, and shown twice.
        handoff_options = format_html_join(
            "",
            '<option value="{}">{}</option>',
            (
                (user_id, full_name or email)
                for user_id, full_name, email in agents.order_by("user__full_name").values_list(
                    "user_id", "user__full_name", "user__email"
                )
            ),
        )
    return render(
        request,
        "console/dashboard.html",
        {
            "handoff_options": handoff_options,
            "scope": scope,
            "data": data,
            # One row per expert with open requests (hundreds nationally):
            # joined here rather than by the template's loop, cell by cell.
            "load_rows": format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (r["agent"], r["open"], r["waiting"], r["breached"], r["capacity"])
                    for r in data.load
                ),
            ),
            "charts": charts(data, scope),
            "figures": collect_figures_cached(scope),
            "figure_reports": FIGURE_REPORTS,
            "can_subscribe": policies.is_supervisor(request.user),
            "reports": REPORTS,
            "query": scope.query(),
            "is_dashboard": True,
            "time_spent": time_spent(scope),
        },
    )


@agent_required
@require_POST
def handoff(request):
    """A supervisor hands every open request of one expert to another (or to the queue)."""

    def person(field):
        value = request.POST.get(field, "")
        user_id = parse_id(value)
        return User.objects.filter(pk=user_id).first() if user_id is not None else None

    source, target = person("from_user"), person("to_user")
    if source is None or (target is not None and target.pk == source.pk):
        messages.error(request, _("Choose whose requests to hand over, and to whom."))
        return redirect("console:dashboard")
    try:
        moved = actions.hand_over_open_tickets(
            from_agent=source,
            to_agent=target,
            actor=request.user,
            reason=request.POST.get("reason", "")[:500],
        )
    except DomainError as error:
        _domain_error(request, error)
        return redirect("console:dashboard")
    messages.success(
        request,
        ngettext(
            "%(n)s open request of %(who)s handed over.",
            "%(n)s open requests of %(who)s handed over.",
            len(moved),
        )
        % {"n": len(moved), "who": source},
    )
    return redirect("console:dashboard")


@agent_required
@require_GET
@reads_from_replica
def report_csv(request, name):
    if name not in ALL_REPORTS:
        raise Http404(_("No such report."))
    scope = Scope.from_request(request)
    return csv_response(name, scope)


@agent_required
@require_GET
def report_xlsx(request, name):
    if name not in ALL_REPORTS:
        raise Http404(_("No such report."))
    scope = Scope.from_request(request)
    return xlsx_response(name, scope)


# --- scheduled reports: a supervisor's subscriptions -------------------------------------


@agent_required
@require_http_methods(["GET", "POST"])
def report_subscriptions(request):
    """List, add and remove the supervisor's weekly and monthly report subscriptions."""
    if not policies.is_supervisor(request.user):
        raise PermissionDenied(_("Scheduled reports are for supervisors."))
    national = Scope(user=request.user, start=timezone.localdate(), end=timezone.localdate())
    regions = list(Region.objects.order_by("code")) if national.national else []
    status = 200
    if request.method == "POST":
        period = request.POST.get("period", "")
        region = None
        region_id = parse_id(request.POST.get("region"))
        if request.POST.get("region") and region_id is None:
            messages.error(request, _("Unknown region."))
            status = 400
        else:
            if region_id is not None:
                region = next((r for r in regions if r.pk == region_id), None)
                if region is None:
                    messages.error(request, _("Unknown region."))
                    status = 400
            if status == 200:
                try:
                    actions.subscribe_report(actor=request.user, period=period, region=region)
                except DomainError as error:
                    _domain_error(request, error)
                    status = 400
                else:
                    messages.success(request, _("Subscribed. The report comes after each period."))
                    return redirect("console:report_subscriptions")
    subscriptions = ReportSubscription.objects.filter(user=request.user).select_related("region")
    return render(
        request,
        "console/report_subscriptions.html",
        {
            "subscriptions": list(subscriptions),
            "periods": ReportSubscription.Period.choices,
            "regions": regions,
            "is_dashboard": True,
        },
        status=status,
    )


@agent_required
@require_POST
def report_unsubscribe(request, pk):
    if actions.unsubscribe_report(actor=request.user, subscription_id=pk):
        messages.success(request, _("Unsubscribed."))
    return redirect("console:report_subscriptions")
