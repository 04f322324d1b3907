"""The request lists: who sees which, filters, paging, a constant number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tickets import actions
from tickets.models import Ticket


def references(response) -> list[str]:
    return re.findall(r'data-test="ticket-row" data-reference="([^"]+)"', response.content.decode())


@pytest.fixture
def tickets(cast, make_ticket):
    """Two of teacher A's, one of a colleague, one of school B."""
    mine = make_ticket(subject="Диплома за 12 клас")
    mine2 = make_ticket(subject="Вход в системата", competence=cast.competences["login"])
    colleague = make_ticket(actor=cast.teacher_a_colleague, subject="Дневник на 5 а")
    other = make_ticket(actor=cast.teacher_b, institution=cast.school_b, subject="Чужда заявка")
    return mine, mine2, colleague, other


def test_my_requests_are_only_mine(client, cast, tickets):
    mine, mine2, colleague, other = tickets
    client.force_login(cast.teacher_a)
    response = client.get("/portal/")
    assert sorted(references(response)) == sorted([mine.reference, mine2.reference])
    # A teacher does not follow the institution: no tab, and asking for it shows only theirs.
    assert 'data-test="tab-institution"' not in response.content.decode()
    response = client.get("/portal/?scope=institution")
    assert sorted(references(response)) == sorted([mine.reference, mine2.reference])


def test_the_director_follows_the_institution(client, cast, tickets):
    mine, mine2, colleague, other = tickets
    client.force_login(cast.director_a)
    response = client.get("/portal/")
    assert references(response) == []
    assert 'data-test="tab-institution"' in response.content.decode()
    response = client.get("/portal/?scope=institution")
    assert sorted(references(response)) == sorted(
        [mine.reference, mine2.reference, colleague.reference]
    )
    assert other.reference not in response.content.decode()
    assert "Учител А2" in response.content.decode()  # who filed it


def test_filters(client, cast, tickets):
    mine, mine2, colleague, other = tickets
    actions.change_status(ticket=mine2, actor=cast.expert_x2, status="resolved")
    client.force_login(cast.director_a)
    base = "/portal/?scope=institution"
    assert references(client.get(base + "&status=resolved")) == [mine2.reference]
    assert mine2.reference not in references(client.get(base + "&status=open"))
    assert references(client.get(base + f"&competence={cast.competences['login'].pk}")) == [
        mine2.reference
    ]
    assert references(client.get(base + "&q=дневник")) == [colleague.reference]
    assert references(client.get(base + "&q=" + mine.reference)) == [mine.reference]
    # A search never widens what is visible.
    assert references(client.get(base + "&q=Чужда")) == []
    response = client.get(base + "&q=няма-такова")
    assert 'data-test="empty-list"' in response.content.decode()


def test_a_bad_filter_value_is_ignored(client, cast, tickets):
    client.force_login(cast.teacher_a)
    response = client.get("/portal/?status=<script>&competence=abc&page=xyz")
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()
    assert len(references(response)) == 2


def make_many(cast, n):
    from tickets.models import Ticket as T

    start = T.objects.count()
    for i in range(n):
        actions.create_ticket(
            actor=cast.teacher_a,
            institution=cast.school_a,
            competence=cast.diplomas if i % 2 else cast.competences["login"],
            subject=f"Заявка {start + i}",
            text="Текст",
            channel="portal",
        )


def test_paging_by_25(client, cast):
    make_many(cast, 30)
    client.force_login(cast.teacher_a)
    first = client.get("/portal/")
    assert len(references(first)) == 25
    assert 'data-test="next-page"' in first.content.decode()
    second = client.get("/portal/?page=2")
    assert len(references(second)) == 5
    assert not set(references(first)) & set(references(second))
    assert 'data-test="prev-page"' in second.content.decode()


def list_queries(client, url) -> int:
    from django.core.cache import cache

    # Start cold each time, so cached banners do not make the counts differ.
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(
    client, cast, django_assert_max_num_queries
):
    make_many(cast, 3)
    Ticket.objects.update(assignee=cast.expert_x)
    client.force_login(cast.director_a)
    url = "/portal/?scope=institution&status=open"
    few = list_queries(client, url)
    make_many(cast, 27)
    Ticket.objects.update(assignee=cast.expert_x)
    assert list_queries(client, url) == few
    # Warm: the person with their agent profile, whether they follow anything,
    # the count, the page, the competences; their memberships and delegations
    # come from the rights cache (accounts/rights_cache.py).
    with django_assert_max_num_queries(5):
        response = client.get(url)
    assert len(references(response)) == 25


@pytest.mark.parametrize(
    "query,subjects",
    [
        ("диплома", ["Диплома за 12 клас"]),
        ("ДИПЛОМА", ["Диплома за 12 клас"]),
        ("дипл клас", ["Диплома за 12 клас"]),
        ("вход системата", ["Вход в системата"]),
        ("клас вход", []),
        ("26-1", ["Диплома за 12 клас"]),
        ("26-000002", ["Вход в системата"]),
        ("%", []),
        ("_", []),
    ],
)
def test_search_words(client, cast, tickets, query, subjects):
    client.force_login(cast.teacher_a)
    response = client.get("/portal/", {"q": query})
    found = Ticket.objects.filter(reference__in=references(response))
    assert sorted(found.values_list("subject", flat=True)) == sorted(subjects)
