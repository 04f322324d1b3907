"""The whole HTTP filing through the portal form costs a bounded number of queries."""

import pytest

pytestmark = pytest.mark.django_db

# Session from the cache; the person and their agent profile in one query;
# memberships, delegations and institutions (with regions) from the
# per-person rights cache (accounts/rights_cache.py), the competences from
# the per-process catalogue routing keeps — no query; one statement for the
# reference; routing (the candidates with their competences, absences, loads
# and the follow-up's previous expert in one read, their row lock before it
# where the database has row locks, the rotation mark); ticket, message (the
# search document written with it, once), history; on SQLite the message's
# id on the ticket after it (PostgreSQL draws that id with the reference and
# inserts the ticket already pointing at it); the
# similarity signature, and the check for a known wave only where the cache
# is not shared between processes and no stamp file carries its version
# (tickets/surges.py); the outbox rows with
# their thread keys (one statement on PostgreSQL, two on SQLite); the
# assigned expert's console notification (routing read their notification
# choices); the dashboard counters the new request moves (day, channel,
# load: one statement on PostgreSQL, three on SQLite, which has no
# data-modifying CTEs and no round trip to save). Transaction markers
# (savepoints under the test's transaction) are counted too. The live update
# after the commit is built from the filed ticket, without a read.
FILING_QUERIES = 14
EXTRA_STATEMENTS_ON_SQLITE = 2 + 1 + 1  # the counters, the outbox, the message's id


def test_filing_through_the_form_stays_within_its_query_budget(
    client, cast, make_ticket, django_assert_num_queries
):
    make_ticket()  # caches that fill once per process (calendar, SLA policies)
    client.force_login(cast.teacher_a)
    data = {
        "institution": cast.school_a.pk,
        "competence": cast.diplomas.pk,
        "subject": "Диплома не се качва",
        "description": "Сканираното изображение на дипломата се отхвърля от системата.",
    }
    assert client.post("/portal/new/", data).status_code == 302
    from django.db import connection

    from tickets import surges

    budget = FILING_QUERIES + (EXTRA_STATEMENTS_ON_SQLITE if connection.vendor == "sqlite" else 0)
    budget += 1 if connection.features.has_select_for_update else 0  # routing's row lock
    budget += 0 if surges._shared_cache() else 1  # the wave check
    with django_assert_num_queries(budget):
        response = client.post("/portal/new/", {**data, "subject": "Втора диплома не се качва"})
    assert response.status_code == 302
    assert cast.teacher_a.requests.count() == 3


def test_a_choice_outside_the_form_is_refused_without_a_query(client, cast):
    client.force_login(cast.teacher_a)
    data = {
        "institution": cast.school_b.pk,  # not theirs
        "competence": 10**12,
        "subject": "Диплома",
        "description": "Текст",
    }
    response = client.post("/portal/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"institution", "competence"}
    assert not cast.teacher_a.requests.exists()
