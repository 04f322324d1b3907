"""The console's similar-requests card and surge alerts (box, dismiss, incident + announcement)."""

import datetime

import pytest

from kb.models import Announcement
from tickets import actions, surges
from tickets.models import Message, Status, SurgeAlert, Ticket

MOVED = "Липсват преместените ученици"


@pytest.fixture
def resolved_like_it(make_ticket, cast):
    ticket = make_ticket(subject=MOVED, text="Учениците от друго училище не се виждат.")
    actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        text="Приемете ги от менюто „Движение на ученици“.",
        kind=Message.Kind.PUBLIC,
        new_status=Status.RESOLVED,
    )
    return ticket


def test_the_ticket_page_loads_the_similar_card(login, cast, make_ticket):
    ticket = make_ticket(subject=MOVED)
    page = login(cast.expert_x).get(f"/console/tickets/{ticket.reference}/")
    assert page.status_code == 200
    assert (
        f'data-similar-url="/console/tickets/{ticket.reference}/similar/"' in page.content.decode()
    )


def test_the_card_lists_similar_requests_with_the_answer_that_resolved_them(
    login, cast, make_ticket, resolved_like_it
):
    open_one = make_ticket(subject="Преместени ученици липсват в списъка", text="От вчера.")
    make_ticket(subject="Печат на удостоверение", text="От вчера.")
    ticket = make_ticket(subject="Учениците, които преместихме, липсват", text="От вчера.")
    html = (
        login(cast.expert_x).get(f"/console/tickets/{ticket.reference}/similar/").content.decode()
    )
    assert resolved_like_it.reference in html and open_one.reference in html
    assert "Печат на удостоверение" not in html
    assert "Движение на ученици" in html  # the answer, to reply from
    assert f'action="/console/tickets/{ticket.reference}/link/"' in html
    assert f'action="/console/tickets/{ticket.reference}/merge/"' in html


def test_the_card_shows_only_what_the_agent_may_see(login, cast, make_ticket):
    make_ticket(actor=cast.teacher_b, institution=cast.school_b, subject=MOVED)
    ticket = make_ticket(subject=MOVED)
    html = (
        login(cast.expert_x).get(f"/console/tickets/{ticket.reference}/similar/").content.decode()
    )
    assert 'data-test="similar-none"' in html
    other = make_ticket(actor=cast.teacher_b, institution=cast.school_b, subject="x y z")
    response = login(cast.expert_x).get(f"/console/tickets/{other.reference}/similar/")
    assert response.status_code == 404


def test_the_card_offers_the_incident_of_a_similar_request(login, cast, make_ticket):
    incident = make_ticket(subject=MOVED)
    actions.set_incident(ticket=incident, actor=cast.expert_x)
    ticket = make_ticket(subject=MOVED)
    html = (
        login(cast.expert_x).get(f"/console/tickets/{ticket.reference}/similar/").content.decode()
    )
    assert f'action="/console/tickets/{ticket.reference}/incident-link/"' in html


def make_alert(cast, now) -> SurgeAlert:
    """An open alert of four login requests from two schools of region X (also for tests/e2e)."""
    members = [
        actions.file_from_mail(
            sender=None,
            requester_email=f"t{n}@school.bg",
            institution=cast.school_a if n % 2 else cast.school_a2,
            competence=cast.competences["login"],
            subject="Не мога да вляза с профила",
            text="",
            now=now - datetime.timedelta(minutes=n),
        )
        for n in range(4)
    ]
    alert = SurgeAlert.objects.create(
        competence=cast.competences["login"],
        terms="вход профил",
        label="Не мога да вляза с профила",
        region_ids=[cast.region_x.pk],
        first_at=now,
        last_at=now,
        request_count=4,
        institution_count=2,
    )
    alert.members.set(members)
    return alert


@pytest.fixture
def alert(cast, now):
    return make_alert(cast, now)


def test_the_alert_box_is_for_supervisors_of_the_region_and_central_support(login, cast, alert):
    assert (
        'data-test="surge-alert"'
        in login(cast.supervisor_x).get("/console/surges/").content.decode()
    )
    assert 'data-test="surge-alert"' in login(cast.central).get("/console/surges/").content.decode()
    assert (
        'data-test="surge-alert"'
        not in login(cast.expert_x).get("/console/surges/").content.decode()
    )
    assert login(cast.teacher_a).get("/console/surges/").status_code == 403


def test_every_console_page_has_the_alert_box(login, cast):
    assert (
        'data-surge-url="/console/surges/"'
        in login(cast.expert_x).get("/console/").content.decode()
    )


def test_dismissing_is_remembered(login, cast, alert):
    client = login(cast.supervisor_x)
    response = client.post(f"/console/surges/{alert.pk}/dismiss/", {"next": "//evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/console/"
    alert.refresh_from_db()
    assert alert.state == SurgeAlert.State.DISMISSED and alert.decided_by == cast.supervisor_x
    assert "surge-alert" not in client.get("/console/surges/").content.decode()


def test_an_alert_of_another_region_is_a_404(login, cast, alert):
    alert.region_ids = [cast.region_y.pk]
    alert.save()
    assert login(cast.supervisor_x).post(f"/console/surges/{alert.pk}/dismiss/").status_code == 404
    assert login(cast.supervisor_x).post("/console/surges/99999/incident/").status_code == 404


def test_one_click_creates_the_incident_links_members_and_publishes(login, cast, alert, settings):
    response = login(cast.supervisor_all).post(f"/console/surges/{alert.pk}/incident/", {})
    alert.refresh_from_db()
    incident = alert.incident
    assert response.status_code == 302
    assert response["Location"] == f"/console/tickets/{incident.reference}/"
    assert incident.is_incident and alert.state == SurgeAlert.State.INCIDENT
    assert Ticket.objects.filter(parent=incident).count() == 4
    announcement = Announcement.objects.get()
    assert alert.announcement_url == f"{settings.SITE_URL}/kb/announcements/{announcement.pk}/"
    assert list(announcement.regions.values_list("pk", flat=True)) == [cast.region_x.pk]
    page = login(cast.teacher_a).get(f"/kb/announcements/{announcement.pk}/")
    assert page.status_code == 200 and announcement.title in page.content.decode()
    # A second click finds the alert dealt with.
    again = login(cast.supervisor_all).post(f"/console/surges/{alert.pk}/incident/", {})
    assert again.status_code == 302
    assert Ticket.objects.filter(is_incident=True).count() == 1
    assert surges.alerts_for(cast.supervisor_all) == []
