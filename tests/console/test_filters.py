"""Queues, filters and keyset paging of the console lists."""

import datetime

import pytest
from django.db.models import Q
from django.utils import timezone

from console.filters import (
    SORTS,
    SortKey,
    TicketFilter,
    after_cursor,
    decode_cursor,
    encode_cursor,
    keyset_page,
    queue_counts,
    queue_queryset,
)
from tickets import actions
from tickets.models import Ticket

DT = datetime.datetime(2026, 3, 2, 9, 30, tzinfo=datetime.UTC)
DUE = (SortKey("resolution_due", nullable=True, kind="datetime"), SortKey("id"))


@pytest.mark.parametrize(
    ("values", "keys"),
    [
        ([DT, 5], DUE),
        ([None, 7], DUE),
        ([3, DT, 9], SORTS["priority"][1]),
        ([DT, 12], SORTS["updated"][1]),
    ],
)
def test_cursor_round_trip(values, keys):
    assert decode_cursor(encode_cursor(values), keys) == values


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not-base64!!",
        "bnVsbA",
        encode_cursor([1]),
        encode_cursor(["x", 1]),
        encode_cursor([None, None]),
        encode_cursor([DT, True]),
        encode_cursor([DT, "1"]),
        # times PostgreSQL cannot hold: refused before they reach a query
        encode_cursor(["2020-01-01T00:00:00+23:59", 1]),
        encode_cursor(["0001-01-01T00:00:00+14:00", 1]),
        encode_cursor(["9999-12-31T23:59:59-14:00", 1]),
    ],
)
def test_bad_cursors_are_ignored(cursor):
    assert decode_cursor(cursor, DUE) is None


def test_after_cursor_shapes():
    assert after_cursor(DUE, [DT, 5]) == (
        Q(pk__in=[])
        | (Q() & (Q(resolution_due__gt=DT) | Q(resolution_due__isnull=True)))
        | (Q(resolution_due=DT) & Q(id__gt=5))
    )
    # After a null due time only other nulls with a higher id follow.
    assert after_cursor(DUE, [None, 5]) == Q(pk__in=[]) | (
        Q(resolution_due__isnull=True) & Q(id__gt=5)
    )
    updated = SORTS["updated"][1]
    assert after_cursor(updated, [DT, 5]) == (
        Q(pk__in=[]) | (Q() & Q(updated_at__lt=DT)) | (Q(updated_at=DT) & Q(id__lt=5))
    )


@pytest.fixture
def many(cast, make_ticket):
    """Twenty-three tickets with equal and missing due times and every priority."""
    base = timezone.now()
    tickets = []
    for i in range(23):
        t = make_ticket(subject=f"Заявка {i}")
        due = None if i % 5 == 0 else base + datetime.timedelta(hours=i % 4)
        Ticket.objects.filter(pk=t.pk).update(
            resolution_due=due,
            priority=["low", "normal", "high", "urgent"][i % 4],
            updated_at=base - datetime.timedelta(minutes=i % 3),
        )
        tickets.append(t)
    return tickets


@pytest.mark.django_db
@pytest.mark.parametrize("sort", list(SORTS))
def test_keyset_pages_walk_the_whole_order_exactly_once(cast, many, sort):
    queryset = Ticket.objects.visible_to(cast.expert_x)
    full = keyset_page(queryset, sort, size=1000).rows
    assert len(full) == 23
    walked, cursor, pages = [], "", 0
    while True:
        page = keyset_page(queryset, sort, cursor, size=4)
        walked.extend(page.rows)
        pages += 1
        if not page.has_next:
            break
        cursor = page.next_cursor
    assert [t.pk for t in walked] == [t.pk for t in full]
    assert pages == 6


@pytest.mark.django_db
def test_due_sort_puts_missing_due_times_last(cast, many):
    rows = keyset_page(Ticket.objects.all(), "due", size=100).rows
    dues = [t.resolution_due for t in rows]
    assert all(d is not None for d in dues[:18]) and all(d is None for d in dues[18:])
    assert dues[:18] == sorted(dues[:18])


@pytest.mark.django_db
def test_queues_follow_the_agent(cast, make_ticket):
    mine = make_ticket()
    actions.assign(ticket=mine, actor=cast.expert_x, assignee=cast.expert_x)
    unassigned = make_ticket()
    Ticket.objects.filter(pk=unassigned.pk).update(assignee=None)
    waiting = make_ticket()
    actions.assign(ticket=waiting, actor=cast.expert_x, assignee=cast.expert_x)
    actions.change_status(ticket=waiting, actor=cast.expert_x, status="waiting")
    central = make_ticket(competence=cast.technical)
    triage = make_ticket(
        channel="email", actor=None, institution=None, requester_email="x@example.com"
    )
    other_region = make_ticket(actor=cast.teacher_b, institution=cast.school_b)

    def refs(key, user):
        return set(queue_queryset(key, user).values_list("reference", flat=True))

    # "Mine" is every open request of mine, those waiting on the requester included.
    assert refs("mine", cast.expert_x) == {mine.reference, waiting.reference}
    assert unassigned.reference in refs("unassigned", cast.expert_x)
    assert mine.reference not in refs("unassigned", cast.expert_x)
    assert refs("waiting", cast.expert_x) == {waiting.reference}
    assert central.reference in refs("escalated", cast.central)
    assert triage.reference in refs("triage", cast.central)
    assert other_region.reference not in refs("all", cast.expert_x)
    assert refs("all", cast.teacher_b) == {other_region.reference}
    counts = queue_counts(cast.expert_x)
    assert counts["mine"] == 2 and counts["waiting"] == 1
    assert counts["all"] == Ticket.objects.visible_to(cast.expert_x).open().count()


@pytest.mark.django_db
def test_filterset_narrows_by_every_field(cast, make_ticket):
    a = make_ticket(subject="Първа", priority="high", actor=cast.director_a)
    b = make_ticket(subject="Втора", competence=cast.competences["login"])
    Ticket.objects.filter(pk=b.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=10),
        has_attachments=True,
        assignee=None,
    )
    actions.assign(ticket=a, actor=cast.expert_x, assignee=cast.expert_x)

    def refs(**params):
        f = TicketFilter(
            params, queryset=Ticket.objects.visible_to(cast.expert_x), user=cast.expert_x
        )
        assert f.is_valid(), f.errors
        return set(f.qs.values_list("reference", flat=True))

    both = {a.reference, b.reference}
    assert refs() == both
    assert refs(priority=["high"]) == {a.reference}
    assert refs(status=["new", "open"]) == both
    assert refs(competence=str(cast.competences["login"].pk)) == {b.reference}
    assert refs(institution=cast.school_a.code) == both
    assert refs(institution=cast.school_b.code) == set()
    assert refs(channel="portal") == both
    assert refs(assignee="me") == {a.reference}
    assert refs(assignee="none") == {b.reference}
    assert refs(assignee=str(cast.expert_x.pk)) == {a.reference}
    today = timezone.localdate()
    assert refs(created_from=today.isoformat()) == {a.reference}
    assert refs(created_to=(today - datetime.timedelta(days=5)).isoformat()) == {b.reference}
    assert refs(has_attachments="true") == {b.reference}
    assert refs(q="втора") == {b.reference}
    due = Ticket.objects.get(pk=a.pk).resolution_due
    assert a.reference in refs(due_from=timezone.localdate(due).isoformat())
