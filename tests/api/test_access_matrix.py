"""Every endpoint of a request × every role × own / other institution / other region.

A role sees a request exactly when the pages let it (Ticket.objects.visible_to);
what it may not see answers 404 on every endpoint, reads and writes alike, and
nothing is written. What it sees, it may read; what it may do there follows
the domain's rules (support staff act, requesters reply).
"""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Delegation
from tests.api.conftest import V1
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

PLACES = ("own", "other_institution", "other_region")
# Which requests each role sees: own = filed by teacher A at school A (region X),
# other_institution = school A2 (region X), other_region = school B (region Y).
SEES = {
    "teacher": {"own"},
    "director": {"own"},
    "delegate": {"own"},
    "regional_expert": {"own", "other_institution"},
    "other_region_expert": {"other_region"},
    "central": set(),
    "supervisor": {"own", "other_institution"},
    "national_supervisor": set(PLACES),
    "service_other_institution": {"other_region"},
    "service_region": {"own", "other_institution"},
}
AGENTS = {
    "regional_expert",
    "other_region_expert",
    "central",
    "supervisor",
    "national_supervisor",
    "service_region",
}
READS = ("", "messages/", "attachments/")


@pytest.fixture
def world(cast, make_ticket, service_account):
    now = timezone.now()
    Delegation.objects.create(
        institution=cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a_colleague,
        rights=["follow"],
        valid_from=now - datetime.timedelta(days=1),
        valid_until=now + datetime.timedelta(days=1),
    )
    tickets = {
        "own": make_ticket(actor=cast.teacher_a),
        # Nobody of the cast works at school A2: an administrator files it.
        "other_institution": make_ticket(actor=cast.admin, institution=cast.school_a2),
        "other_region": make_ticket(actor=cast.teacher_b, institution=cast.school_b),
    }
    Ticket.objects.update(assignee=None)
    _a, svc_b, _t = service_account(institution=cast.school_b, name="svc b")
    _a, svc_x, _t = service_account(region=cast.region_x, name="svc x")
    people = {
        "teacher": cast.teacher_a,
        "director": cast.director_a,
        "delegate": cast.teacher_a_colleague,
        "regional_expert": cast.expert_x,
        "other_region_expert": cast.expert_y,
        "central": cast.central,
        "supervisor": cast.supervisor_x,
        "national_supervisor": cast.supervisor_all,
    }
    return tickets, people, {"service_other_institution": svc_b, "service_region": svc_x}


def client_for(role, world, token_for):
    _tickets, people, services = world
    if role in services:
        return services[role]
    client, _token, _secret = token_for(people[role])
    return client


@pytest.mark.parametrize("role", sorted(SEES))
def test_reads(role, world, token_for):
    tickets, _people, _services = world
    client = client_for(role, world, token_for)
    listed = {t["reference"] for t in client.get(f"{V1}/tickets/").json()["results"]}
    assert listed == {tickets[p].reference for p in SEES[role]}
    for place in PLACES:
        expected = 200 if place in SEES[role] else 404
        for path in READS:
            response = client.get(f"{V1}/tickets/{tickets[place].reference}/{path}")
            assert response.status_code == expected, (place, path, response.content)


@pytest.mark.parametrize("role", sorted(SEES))
def test_writes(role, world, token_for):
    tickets, _people, _services = world
    client = client_for(role, world, token_for)
    for place in PLACES:
        ticket = tickets[place]
        url = f"{V1}/tickets/{ticket.reference}"
        before = Message.objects.filter(ticket=ticket).count()
        reply = client.post(f"{url}/messages/", {"text": "Отговор"}, "application/json")
        take = client.post(f"{url}/take/")
        note = client.post(
            f"{url}/messages/", {"text": "Бележка", "kind": "internal"}, "application/json"
        )
        priority = client.patch(url + "/", {"priority": "high"}, "application/json")
        if place not in SEES[role]:
            for response in (reply, take, note, priority):
                assert response.status_code == 404, (place, response.content)
            assert Message.objects.filter(ticket=ticket).count() == before
            continue
        assert reply.status_code == 201, (place, reply.content)
        if role in AGENTS:
            assert (take.status_code, note.status_code, priority.status_code) == (200, 201, 200)
        else:
            assert (take.status_code, note.status_code, priority.status_code) == (403, 403, 403)
            assert take.json()["code"] == "forbidden"


@pytest.mark.parametrize("role", sorted(SEES))
def test_filing(role, world, token_for, cast):
    client = client_for(role, world, token_for)
    may_file = {
        "teacher": {"2206409"},
        "director": {"2206409"},
        "delegate": {"2206409"},
        "service_other_institution": {"1600101"},
        "service_region": {"2206409", "2200777"},
    }.get(role, {"2206409", "2200777", "1600101"} if role in AGENTS else set())
    for code in ("2206409", "2200777", "1600101"):
        response = client.post(
            f"{V1}/tickets/",
            {"subject": "Заявка", "text": "Текст", "institution": code},
            "application/json",
        )
        assert response.status_code == (201 if code in may_file else 403), (code, response.content)
