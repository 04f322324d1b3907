"""The queue counters say how many rows their lists show, for every role and queue."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from console.filters import PAGE_SIZE, QUEUE_KEYS, queue_counts, queue_queryset
from tickets import actions
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

AGENTS = ("expert_x", "expert_x2", "expert_y", "central", "supervisor_x", "supervisor_all", "admin")
ROWS = re.compile(r'<tr data-id="(\d+)"')
COUNTER = re.compile(r'data-count="([a-z]+)">(\d*)</span>')
NEXT = re.compile(r'href="\?([^"]+)" rel="next"')


@pytest.fixture
def week(cast, make_ticket):
    """Requests in every state a queue cares about, in two regions and both tiers."""
    now = timezone.now()
    long_ago = now - datetime.timedelta(days=20)
    made = []

    def make(**kwargs):
        ticket = make_ticket(**kwargs)
        made.append(ticket)
        return ticket

    # Region X: diplomas (expert X), login (expert X2), some overdue, one waiting,
    # one returned to the queue, closed and resolved ones.
    for _ in range(3):
        make()
    make(now=long_ago)
    make(competence=cast.competences["login"], actor=cast.director_a)
    waiting = make()
    actions.change_status(ticket=waiting, actor=cast.expert_x, status="waiting")
    queued = make()
    actions.assign(ticket=queued, actor=cast.expert_x, assignee=None)
    for status in ("resolved", "closed"):
        done = make()
        actions.add_message(
            ticket=done, actor=cast.expert_x, text="Готово.", channel="console", new_status=status
        )
    duplicate, original = make(), make()
    actions.merge(source=duplicate, target=original, actor=cast.expert_x)
    # Central support: a technical fault, one escalated from region X, one closed.
    make(competence=cast.technical)
    escalated = make()
    actions.escalate(ticket=escalated, actor=cast.expert_x, tier="central", reason="Грешка 500")
    fixed = make(competence=cast.technical)
    actions.add_message(
        ticket=fixed, actor=cast.central, text="Оправено.", channel="console", new_status="closed"
    )
    # Triage: a mail from someone unknown, no region.
    make(channel="email", actor=None, institution=None, requester_email="x@example.com")
    # Region Y: enough for two pages of "all" for its expert and the national supervisor.
    for i in range(PAGE_SIZE + 3):
        make(actor=cast.teacher_b, institution=cast.school_b, subject=f"Пловдив {i}")
    closed_y = make(actor=cast.teacher_b, institution=cast.school_b)
    actions.add_message(
        ticket=closed_y, actor=cast.expert_y, text="Готово.", channel="console", new_status="closed"
    )
    return made


def list_total(client, key) -> tuple[dict[str, int], int]:
    """Walk a queue's list page by page: (the counters on its first page, rows shown)."""
    url = reverse("console:queue_key", args=[key])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    counters = {k: int(n) for k, n in COUNTER.findall(html)}
    seen = []
    while True:
        seen += ROWS.findall(html)
        following = NEXT.search(html)
        if not following:
            break
        html = client.get(f"{url}?{following.group(1).replace('&amp;', '&')}").content.decode()
    assert len(seen) == len(set(seen)), "a row shown twice"
    return counters, len(seen)


@pytest.mark.parametrize("who", AGENTS)
def test_every_counter_equals_its_list(client, cast, week, who):
    user = getattr(cast, who)
    client.force_login(user)
    shown = {}
    for key in QUEUE_KEYS:
        counters, total = list_total(client, key)
        assert set(counters) == set(QUEUE_KEYS)
        shown[key] = total
        assert counters[key] == total, f"{who}: counter of {key} is {counters[key]}, list {total}"
    # The live refresh counts the same way.
    assert client.get(reverse("console:counts")).json() == shown
    assert queue_counts(user) == {k: queue_queryset(k, user).count() for k in QUEUE_KEYS}


def test_the_cast_covers_what_the_counters_count(cast, week):
    """The data above is not trivial: queues are non-empty and "all" holds closed ones."""
    counts = {who: queue_counts(getattr(cast, who)) for who in AGENTS}
    assert counts["expert_x"]["mine"] and counts["expert_x"]["unassigned"]
    assert counts["expert_x"]["waiting"] and counts["expert_x"]["due"]
    assert counts["central"]["escalated"] and counts["central"]["triage"]
    assert counts["expert_y"]["all"] > PAGE_SIZE
    assert counts["supervisor_all"]["all"] == Ticket.objects.count()
    open_x = Ticket.objects.visible_to(cast.expert_x).open().count()
    assert counts["expert_x"]["all"] > open_x  # closed requests are in "all", and counted


@pytest.mark.parametrize("who", AGENTS)
def test_open_queues_counted_alone_are_the_same(cast, week, who):
    """The page counts only open requests afresh: every queue but "all" holds nothing else."""
    user = getattr(cast, who)
    counts = queue_counts(user)
    assert queue_counts(user, everything=False) == {k: n for k, n in counts.items() if k != "all"}


def test_the_page_takes_all_from_the_cache_and_the_live_refresh_counts_it(
    client, cast, week, make_ticket
):
    client.force_login(cast.expert_x)
    url = reverse("console:queue_key", args=["mine"])
    first = dict(COUNTER.findall(client.get(url).content.decode()))
    make_ticket()  # a new request in region X, nobody's yet
    again = {k: int(n) for k, n in COUNTER.findall(client.get(url).content.decode())}
    fresh = queue_counts(cast.expert_x)
    assert fresh != {k: int(n) for k, n in first.items()}
    # The open queues are counted afresh; the history's count is kept a few minutes.
    assert again == {**fresh, "all": int(first["all"])}
    assert client.get(reverse("console:counts")).json()["all"] == int(first["all"]) + 1
