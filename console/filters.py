"""The console's lists: queues, django-filter filters, sorting and keyset paging.

A queue is Ticket.objects.visible_to(user) narrowed by one condition; the
filters narrow it further; a page is read with a keyset cursor on
(sort key, id) so page 500 costs what page 1 costs (no OFFSET).
"""

import base64
import binascii
import datetime
import json
from dataclasses import dataclass

import django_filters
from django.core.cache import cache
from django.db.models import Case, Count, IntegerField, Prefetch, Q, Value, When
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import AgentProfile, Region
from console.forms import (
    FastCheckboxes,
    FastDateInput,
    FastSelect,
    FastTextInput,
    PlainNullBooleanSelect,
)
from helpdesk.bounds import BoundedDateField, parse_bounded_datetime, parse_id
from helpdesk.errors import DomainError
from tickets import fields as competence_fields
from tickets import policies
from tickets.models import (
    OPEN_STATUSES,
    PRIORITY_RANK,
    TAG_MAX,
    Channel,
    Competence,
    CompetenceField,
    Priority,
    Status,
    Tag,
    Ticket,
    TicketFieldValue,
    TicketTag,
    Tier,
    tag_key,
)
from tickets.search import filter_by_text

PAGE_SIZE = 30
DUE_SOON = datetime.timedelta(hours=4)


# --- queues -----------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    default_sort: str


QUEUES = [
    Queue("mine", _("My open requests"), "due"),
    Queue("unassigned", _("Unassigned in my queue"), "due"),
    Queue("waiting", _("Waiting on the requester"), "updated"),
    Queue("due", _("Due soon or breached"), "due"),
    Queue("escalated", _("Escalated to central support"), "due"),
    Queue("triage", _("Triage (no region)"), "created"),
    Queue("all", _("Everything I may see"), "updated"),
]
QUEUE_KEYS = {q.key: q for q in QUEUES}


def _is_expert(user) -> bool:
    agent = user.agent
    return agent is not None and agent.kind == AgentProfile.Kind.EXPERT


def queue_condition(key: str, user, now=None) -> Q:
    """Return the condition that, on top of visible_to(user), makes queue `key`.

    _counted_queue_counts() reads the same conditions from the counters: a
    change here is a change there.
    """
    now = now or timezone.now()
    open_q = Q(status__in=OPEN_STATUSES)
    agent = user.agent
    if key == "mine":
        return open_q & Q(assignee_id=user.pk)
    if key == "unassigned":
        condition = open_q & Q(assignee__isnull=True) & Q(merged_into__isnull=True)
        if agent is not None and agent.tier == Tier.CENTRAL and agent.region_id is None:
            return condition & Q(tier=Tier.CENTRAL)
        if agent is not None and agent.region_id:
            condition &= Q(region_id=agent.region_id, tier=Tier.REGIONAL)
        return condition
    if key == "waiting":
        condition = Q(status=Status.WAITING)
        return condition & Q(assignee_id=user.pk) if _is_expert(user) else condition
    if key == "due":
        soon = now + DUE_SOON
        return Q(status__in=(Status.NEW, Status.OPEN)) & (
            Q(sla_breached=True)
            | Q(resolution_due__lte=soon)
            | Q(first_response_at__isnull=True, first_response_due__lte=soon)
        )
    if key == "escalated":
        return open_q & Q(tier=Tier.CENTRAL)
    if key == "triage":
        return open_q & Q(region__isnull=True)
    return Q()


def queue_queryset(key: str, user, now=None):
    """Return visible_to(user) narrowed to the queue `key`."""
    return Ticket.objects.visible_to(user).filter(queue_condition(key, user, now))


def queue_counts(user, now=None, *, everything=True, counters: bool = True) -> dict[str, int]:
    """Return {queue key: number of rows its list shows} in one aggregate query.

    One definition for the counter and the list: each count is queue_condition
    over Ticket.objects.visible_to(user), as queue_queryset() is; "all" counts
    every request the person may see, closed ones too, as its list shows them.

    Someone who sees every ticket (an administrator, a national supervisor)
    gets them from the dashboard's counters (tickets/counters.py) instead of
    a count over every ticket in the country; `counters=False` counts from
    the tickets always (the tests compare the two).

    everything=False leaves "all" out and counts only open requests: every
    other queue holds open requests only, so the query reads the open ones
    from an index and costs the same at 10 000 requests as at 1 000 000,
    where counting the whole history for "all" cannot.
    """
    now = now or timezone.now()
    if counters and user.is_active and (user.is_superuser or _sees_country(user)):
        counted = _counted_queue_counts(user, now)
        if not everything:
            counted.pop("all", None)
        return counted
    tickets = Ticket.objects.visible_to(user)
    if not everything:
        tickets = tickets.filter(status__in=OPEN_STATUSES)
    aggregates = {}
    for key in QUEUE_KEYS:
        if key == "all" and not everything:
            continue
        condition = queue_condition(key, user, now)
        aggregates[key] = Count("id", filter=condition) if condition else Count("id")
    return tickets.aggregate(**aggregates)


def _counted_queue_counts(user, now) -> dict[str, int]:
    """queue_counts() of someone who sees every ticket: the counters, and the tickets coming due.

    Each count is queue_condition() read from LoadFigure (region × assignee ×
    competence × tier). "due" is the breached ones (counted) and those not
    yet marked breached whose due time is past or near: the SLA sweep marks
    breaches every minute, so these are few (partial indexes q_due_unmarked,
    q_first_unmarked). tests/console/test_counted_figures.py compares each
    count with queue_counts(counters=False).
    """
    from django.db.models import Sum

    # Imported here: only the national counts read the counter table.
    from tickets.models import LoadFigure

    agent = user.agent
    unassigned = Q(assignee_id=0)
    if agent is not None and agent.tier == Tier.CENTRAL and agent.region_id is None:
        unassigned &= Q(tier=Tier.CENTRAL)
    elif agent is not None and agent.region_id:
        unassigned &= Q(region_id=agent.region_id, tier=Tier.REGIONAL)

    def total(column, condition=None):
        return Sum(column, filter=condition) if condition is not None else Sum(column)

    figures = LoadFigure.objects.aggregate(
        all=total("total"),
        mine=total("open_count", Q(assignee_id=user.pk)),
        unassigned=total("open_unmerged", unassigned),
        waiting=total("waiting", Q(assignee_id=user.pk) if _is_expert(user) else None),
        breached=total("breached"),
        escalated=total("open_count", Q(tier=Tier.CENTRAL)),
        triage=total("open_count", Q(region_id=0)),
    )
    soon = now + DUE_SOON
    coming_due = (
        Ticket.objects.filter(status__in=(Status.NEW, Status.OPEN), sla_breached=False)
        .filter(
            Q(resolution_due__lte=soon)
            | Q(first_response_at__isnull=True, first_response_due__lte=soon)
        )
        .count()
    )
    counts = {key: figures.get(key) or 0 for key in QUEUE_KEYS}
    counts["due"] = (figures["breached"] or 0) + coming_due
    return counts


def _sees_country(user) -> bool:
    """A national supervisor: Ticket.objects.visible_to() gives them every ticket."""
    agent = user.agent
    return agent is not None and agent.kind == AgentProfile.Kind.SUPERVISOR and not agent.region_id


def unassigned_by_competence(user) -> list[tuple[int | None, int]]:
    """Return [(competence id, count)] of the user's unassigned queue."""
    rows = (
        queue_queryset("unassigned", user)
        .values_list("competence_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return list(rows)


# --- sorting and keyset paging ------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One column of a sort: its name in the queryset, direction, and whether it can be null."""

    name: str
    descending: bool = False
    nullable: bool = False
    kind: str = "int"  # "int" or "datetime"


SORTS: dict[str, tuple[str, tuple[SortKey, ...]]] = {
    "due": (
        _("due time"),
        (SortKey("resolution_due", nullable=True, kind="datetime"), SortKey("id")),
    ),
    "priority": (
        _("priority"),
        (
            SortKey("prank", descending=True),
            SortKey("resolution_due", nullable=True, kind="datetime"),
            SortKey("id"),
        ),
    ),
    "updated": (
        _("last update"),
        (SortKey("updated_at", descending=True, kind="datetime"), SortKey("id", descending=True)),
    ),
    "created": (
        _("newest"),
        (SortKey("created_at", descending=True, kind="datetime"), SortKey("id", descending=True)),
    ),
}
SORT_CHOICES = [(key, label) for key, (label, _keys) in SORTS.items()]


def priority_rank():
    return Case(
        *[When(priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()],
        default=Value(1),
        output_field=IntegerField(),
    )


def order_by_for(keys) -> list:
    from django.db.models import F

    out = []
    for key in keys:
        expression = F(key.name)
        # Nulls last in both directions: a ticket without a due time (waiting
        # on the requester) is the least urgent.
        if key.descending:
            out.append(expression.desc(nulls_last=True) if key.nullable else expression.desc())
        else:
            out.append(expression.asc(nulls_last=True) if key.nullable else expression.asc())
    return out


def encode_cursor(values) -> str:
    """Return an opaque URL-safe cursor for the sort values of the last row shown."""
    plain = [v.isoformat() if isinstance(v, datetime.datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys) -> list | None:
    """Return the sort values in `cursor`, or None when it is not a valid cursor for `keys`."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    out = []
    for key, value in zip(keys, values):
        if value is None:
            if not key.nullable:
                return None
            out.append(None)
        elif key.kind == "datetime":
            parsed = parse_bounded_datetime(value)
            if parsed is None:
                return None
            out.append(parsed)
        elif isinstance(value, int) and not isinstance(value, bool):
            out.append(value)
        else:
            return None
    return out


def _after_one(key: SortKey, value) -> Q | None:
    """Rows strictly after `value` in this column's order (nulls last); None if none can be."""
    if value is None:
        return None  # nothing sorts after a null
    strictly = Q(**{f"{key.name}__{'lt' if key.descending else 'gt'}": value})
    if key.nullable:
        strictly |= Q(**{f"{key.name}__isnull": True})
    return strictly


def _equal_one(key: SortKey, value) -> Q:
    if value is None:
        return Q(**{f"{key.name}__isnull": True})
    return Q(**{key.name: value})


def after_cursor(keys, values) -> Q:
    """Return the condition "comes after the row with these sort values".

    For keys (a, b, id): a > x OR (a = x AND b > y) OR (a = x AND b = y AND id > z),
    with each comparison turned for descending keys and nulls sorted last.
    """
    condition = Q(pk__in=[])
    prefix = Q()
    for key, value in zip(keys, values):
        step = _after_one(key, value)
        if step is not None:
            condition |= prefix & step
        prefix &= _equal_one(key, value)
    return condition


@dataclass
class Page:
    rows: list
    next_cursor: str
    has_next: bool


def keyset_page(queryset, sort: str, cursor: str = "", size: int = PAGE_SIZE) -> Page:
    """Return one page of `queryset` in `sort` order, starting after `cursor`."""
    _label, keys = SORTS.get(sort, SORTS["due"])
    if any(k.name == "prank" for k in keys):
        queryset = queryset.annotate(prank=priority_rank())
    values = decode_cursor(cursor, keys)
    if values is not None:
        queryset = queryset.filter(after_cursor(keys, values))
    rows = list(queryset.order_by(*order_by_for(keys))[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    next_cursor = ""
    if has_next and rows:
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, k.name) for k in keys])
    return Page(rows=rows, next_cursor=next_cursor, has_next=has_next)


# --- filters --------------------------------------------------------------------------


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


AGENTS_KEY = "console:agents"
AGENTS_SECONDS = 60


def _all_agents() -> list[tuple[int, str, str, int | None]]:
    """Every active agent as (user id, name shown, tier, region id), by tier and name.

    Kept in the cache: every queue page shows them twice (the assignee filter
    and the bulk bar) and building them from model instances cost ~1 ms for a
    region and ~4 ms for the whole country. Four columns, read once a minute
    at most; forgotten at once when an agent or an agent's name changes
    (forget_agents, connected in console.apps).
    """
    agents = cache.get(AGENTS_KEY)
    if agents is None:
        rows = (
            AgentProfile.objects.filter(user__is_active=True)
            .order_by("tier", "user__full_name")
            .values_list("user_id", "user__full_name", "user__email", "tier", "region_id")
        )
        # The name as User.__str__ gives it.
        agents = [(uid, name or email, tier, region) for uid, name, email, tier, region in rows]
        cache.set(AGENTS_KEY, agents, AGENTS_SECONDS)
    return agents


def forget_agents(sender=None, **kwargs) -> None:
    """post_save / post_delete of AgentProfile and User: the cached list is out of date."""
    update_fields = kwargs.get("update_fields")
    if sender is not None and update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login changes nobody's name or standing
    cache.delete(AGENTS_KEY)


def agent_options(user) -> list[tuple[int, str]]:
    """The agents `user`'s lists can be given to, as (user id, name): their region and central.

    The same people, in the same order, as console.views._agents_for(None, user).
    """
    agent = user.agent if user is not None and user.is_authenticated else None
    region_id = agent.region_id if agent is not None else None
    return [
        (uid, name)
        for uid, name, tier, region in _all_agents()
        if not region_id or region == region_id or tier == Tier.CENTRAL
    ]


def assignee_choices(user, agents=None) -> list[tuple[str, str]]:
    """Return the assignee filter's choices: me, nobody, and the agents near `user`.

    `agents` ((user id, name) pairs, as agent_options gives them) saves the
    query when the caller has them.
    """
    choices = [("me", _("me")), ("none", _("nobody (queue)"))]
    if agents is None:
        profiles = AgentProfile.objects.filter(user__is_active=True).select_related("user")
        agent = user.agent if user is not None and user.is_authenticated else None
        if agent is not None and agent.region_id:
            profiles = profiles.filter(Q(region_id=agent.region_id) | Q(tier=Tier.CENTRAL))
        agents = [(a.user_id, str(a.user)) for a in profiles.order_by("user__full_name")]
    choices += [(str(uid), name) for uid, name in agents]
    return choices


class BoundedDateFilter(django_filters.DateFilter):
    """A date filter that refuses dates the helpdesk cannot hold (400, never an overflow)."""

    field_class = BoundedDateField


class TicketFilter(django_filters.FilterSet):
    """Filters of the console lists and the API; every one maps to indexed columns."""

    q = django_filters.CharFilter(
        method="filter_text",
        label=_("Search"),
        widget=FastTextInput(
            attrs={"type": "search", "placeholder": _('words, "a phrase", reference, code, e-mail')}
        ),
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, label=_("Status"), widget=FastCheckboxes
    )
    priority = django_filters.MultipleChoiceFilter(
        choices=Priority.choices, label=_("Priority"), widget=FastCheckboxes
    )
    competence = django_filters.ModelChoiceFilter(
        queryset=Competence.objects.filter(is_active=True), label=_("Competence"), widget=FastSelect
    )
    region = django_filters.ModelChoiceFilter(
        queryset=Region.objects.all(), label=_("Region"), widget=FastSelect
    )
    institution = django_filters.CharFilter(
        field_name="institution__code", label=_("Institution code"), widget=FastTextInput
    )
    channel = django_filters.ChoiceFilter(
        choices=Channel.choices, label=_("Channel"), widget=FastSelect
    )
    assignee = django_filters.ChoiceFilter(
        method="filter_assignee", label=_("Assignee"), widget=FastSelect
    )
    created_from = BoundedDateFilter(
        method="filter_created_from", label=_("Created from"), widget=FastDateInput
    )
    created_to = BoundedDateFilter(
        method="filter_created_to", label=_("Created until"), widget=FastDateInput
    )
    due_from = BoundedDateFilter(
        method="filter_due_from", label=_("Due from"), widget=FastDateInput
    )
    due_to = BoundedDateFilter(method="filter_due_to", label=_("Due until"), widget=FastDateInput)
    has_attachments = django_filters.BooleanFilter(
        label=_("Has attachments"), widget=PlainNullBooleanSelect
    )
    tag = django_filters.CharFilter(
        method="filter_tag",
        label=_("Tag"),
        max_length=TAG_MAX * 3,
        widget=FastTextInput(
            attrs={
                "list": "tag-suggestions",
                "autocomplete": "off",
                "data-suggest-url": reverse_lazy("console:tag_suggestions"),
            }
        ),
    )

    class Meta:
        model = Ticket
        fields = []

    def __init__(
        self, data=None, queryset=None, *, request=None, prefix=None, user=None, agents=None
    ):
        super().__init__(data, queryset, request=request, prefix=prefix)
        self.user = user or (request.user if request is not None else None)
        user = self.user
        # A plain closure, not a bound method: the form deep-copies its fields
        # and a bound method would drag the request along.
        self.filters["assignee"].extra["choices"] = lambda: assignee_choices(user, agents)
        agent = user.agent if user is not None and user.is_authenticated else None
        if agent is not None and agent.region_id and not user.is_superuser:
            # A regional person sees one region; the choice would only confuse.
            self.filters.pop("region")
        if not policies.may_see_internal(user):
            self.filters.pop("tag")  # tags are the staff's own labels
        language = get_language_code()
        for field in competence_fields.active_fields():
            extra = field_filter(field, language)
            extra.model = Ticket
            extra.parent = self
            self.filters[competence_fields.param_name(field)] = extra

    def filter_text(self, queryset, name, value):
        return filter_by_text(
            queryset, value, include_internal=policies.may_see_internal(self.user)
        )

    def filter_tag(self, queryset, name, value):
        """Requests with every tag named (comma-separated), matched without case."""
        for key in {tag_key(part) for part in value.split(",")} - {""}:
            queryset = queryset.filter(
                pk__in=TicketTag.objects.filter(tag__key=key).values("ticket_id")
            )
        return queryset

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee_id=self.user.pk)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        assignee_id = parse_id(value)
        if assignee_id is not None:
            return queryset.filter(assignee_id=assignee_id)
        return queryset

    def filter_created_from(self, queryset, name, value):
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_created_to(self, queryset, name, value):
        return queryset.filter(created_at__lt=_day_start(value + datetime.timedelta(days=1)))

    def filter_due_from(self, queryset, name, value):
        return queryset.filter(resolution_due__gte=_day_start(value))

    def filter_due_to(self, queryset, name, value):
        return queryset.filter(resolution_due__lt=_day_start(value + datetime.timedelta(days=1)))


ROW_RELATED = ("institution", "competence", "assignee", "requester")
# The columns a list row shows (console.rows) and its sort keys need, and no
# more: a ticket and the four rows joined to it have some 90 columns, and
# reading them all cost about a third of the page's query time in Python.
ROW_FIELDS = (
    "reference",
    "subject",
    "is_incident",
    "status",
    "priority",
    "resolution_due",
    "sla_breached",
    "updated_at",
    "created_at",
    "requester_name",
    "requester_email",
    "requester__full_name",
    "requester__email",
    "institution__code",
    "institution__name",
    "competence__name",
    "assignee__full_name",
    "assignee__email",
)


def row_prefetch() -> tuple:
    """What a list row shows from other tables, read once per page (never once per row)."""
    return (Prefetch("tags", queryset=Tag.objects.order_by("key")),)


# --- filters by the fields of a competence ------------------------------------------


def get_language_code() -> str:
    return (get_language() or "bg")[:2]


def field_filter(field: CompetenceField, language: str) -> django_filters.Filter:
    """A filter for one competence field: a choice by value, text by "contains", else equal."""
    label = f"{field.competence.localized_name(language)}: {field.localized_label(language)}"
    method = _field_method(field)
    if field.kind == CompetenceField.Kind.CHOICE:
        options = [(v, field.choice_label(v, language)) for v, _en in field.choice_list()]
        return django_filters.ChoiceFilter(
            choices=options, label=label, method=method, widget=FastSelect
        )
    attrs = {"type": "date"} if field.kind == CompetenceField.Kind.DATE else {}
    return django_filters.CharFilter(
        label=label, method=method, max_length=255, widget=FastTextInput(attrs=attrs)
    )


def _field_method(field: CompetenceField):
    def apply(queryset, name, value):
        values = TicketFieldValue.objects.filter(field_id=field.pk)
        if field.kind == CompetenceField.Kind.TEXT:
            values = values.filter(value__icontains=" ".join(value.split()))
        else:
            try:
                answer = competence_fields.clean_value(field, value)
            except DomainError:
                return queryset.none()
            if answer is None:
                return queryset
            values = values.filter(value=answer.value)
        return queryset.filter(pk__in=values.values("ticket_id"))

    return apply


# Shown at once above a list; the others fold away until one of them is used.
MAIN_FILTERS = ("q", "status", "priority")
