"""tickets.assignment.route_new_ticket with the database, driven through create_ticket."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Absence, InstitutionDomain
from tickets.models import AgentSettings, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def routed(ticket) -> TicketEvent:
    (row,) = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ROUTED)
    return row


def email_ticket(make_ticket, sender, subject, text="", **kw):
    return make_ticket(
        actor=None,
        channel="email",
        institution=None,
        competence=None,
        requester_email=sender,
        subject=subject,
        text=text,
        **kw,
    )


def test_portal_ticket_takes_region_from_institution(cast, make_ticket):
    a = make_ticket()
    b = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    assert (a.region, a.tier, a.assignee) == (cast.region_x, "regional", cast.expert_x)
    assert (b.region, b.tier, b.assignee) == (cast.region_y, "regional", cast.expert_y)
    row = routed(a)
    assert row.new_value == "assigned" and row.channel == "portal"
    assert "region 22 from institution 2206409" in row.note
    assert "competence diplomas chosen by requester" in row.note
    assert "assigned to Експерт X" in row.note


def test_email_ticket_guesses_institution_from_domain_and_competence_from_keywords(
    cast, make_ticket
):
    InstitutionDomain.objects.create(institution=cast.school_a, domain="138sou.bg")
    t = email_ticket(
        make_ticket,
        "Zam.Direktor@138SOU.bg",
        "Отхвърлена диплома",
        "Сканираното изображение на дипломата не се приема.",
    )
    assert t.requester is None and t.requester_email == "zam.direktor@138sou.bg"
    assert t.institution == cast.school_a and not t.institution_verified
    assert (t.region, t.competence, t.assignee) == (cast.region_x, cast.diplomas, cast.expert_x)
    note = routed(t).note
    assert "from sender domain 138sou.bg" in note
    assert "competence diplomas from keywords" in note


def test_email_ticket_finds_institution_by_code_in_text(cast, make_ticket):
    t = email_ticket(
        make_ticket,
        "teacher@abv.bg",
        "Не мога да вляза",
        "Училище с код 1600101, забравена парола за профил.",
    )
    assert t.institution == cast.school_b and t.region == cast.region_y
    assert t.competence == cast.competences["login"]
    assert t.assignee == cast.expert_y


def test_nothing_recognised_goes_to_triage(cast, make_ticket):
    t = email_ticket(make_ticket, "someone@gmail.com", "Здравейте", "Имам въпрос към вас.")
    assert t.institution is None and t.region is None and t.competence is None
    assert t.assignee is None and t.tier == "regional"
    row = routed(t)
    assert row.new_value == "triage"
    assert "triage" in row.note and "competence not recognised" in row.note
    # The triage queue is central support's, and nobody else's but supervisors'.
    assert Ticket.objects.visible_to(cast.central).filter(pk=t.pk).exists()
    assert not Ticket.objects.visible_to(cast.expert_x).filter(pk=t.pk).exists()


def test_known_competence_without_region_goes_to_triage(cast, make_ticket):
    t = email_ticket(make_ticket, "x@gmail.com", "Дипломата не се записва")
    assert t.competence == cast.diplomas and t.region is None and t.assignee is None
    assert routed(t).new_value == "triage"
    assert "triage: region unknown" in routed(t).note


def test_technical_fault_goes_to_central_tier(cast, make_ticket):
    t = make_ticket(competence=cast.technical, subject="Грешка 500 в модула")
    assert t.tier == "central" and t.assignee == cast.central
    assert t.region == cast.region_x, "the region is kept for reports"
    assert "tier central from competence technical" in routed(t).note


def test_technical_fault_is_guessed_from_an_email_too(cast, make_ticket):
    t = email_ticket(
        make_ticket, "x@gmail.com", "Модулът не работи", "Излиза грешка 500, сайтът е бавен."
    )
    assert t.competence == cast.technical and t.tier == "central"
    assert t.assignee == cast.central


def test_capacity_is_respected(cast, make_ticket):
    profile = cast.expert_x.agent_profile
    profile.capacity = 2
    profile.save()
    first, second, third = (make_ticket() for _ in range(3))
    assert first.assignee == second.assignee == cast.expert_x
    assert third.assignee is None
    row = routed(third)
    assert row.new_value == "competence_queue"
    assert "1 at capacity" in row.note
    # A resolved ticket frees a place.
    Ticket.objects.filter(pk=first.pk).update(status="resolved")
    assert make_ticket().assignee == cast.expert_x


def test_absent_expert_is_skipped(cast, make_ticket):
    now = timezone.now()
    Absence.objects.create(
        agent=cast.expert_x.agent_profile,
        starts_at=now - datetime.timedelta(days=1),
        ends_at=now + datetime.timedelta(days=1),
    )
    t = make_ticket()
    assert t.assignee is None
    assert "1 absent" in routed(t).note
    # With a second qualified expert present, the ticket goes to them.
    cast.expert_x2.agent_profile.competences.add(cast.diplomas)
    assert make_ticket().assignee == cast.expert_x2
    # Once the absence is over, expert X is back in the rotation.
    later = now + datetime.timedelta(days=2)
    assert make_ticket(actor=cast.director_a, now=later).assignee == cast.expert_x


def test_least_loaded_expert_is_chosen(cast, make_ticket):
    cast.expert_x2.agent_profile.competences.add(cast.diplomas)
    owners = [make_ticket(actor=a).assignee for a in (cast.teacher_a, cast.director_a)]
    assert set(owners) == {cast.expert_x, cast.expert_x2}


def test_follow_up_of_the_same_requester_goes_to_the_same_expert(cast, make_ticket):
    cast.expert_x2.agent_profile.competences.add(cast.diplomas)
    first = make_ticket(actor=cast.teacher_a)
    other = make_ticket(actor=cast.director_a)
    assert first.assignee != other.assignee
    # Loads are now equal, and rotation would pick the one assigned longest ago
    # (first.assignee); make that the busier one so that only the follow-up rule
    # can explain the choice.
    make_ticket(actor=cast.secretary_a)  # goes to first.assignee by rotation
    follow_up = make_ticket(actor=cast.teacher_a)
    assert follow_up.assignee == first.assignee
    assert "previous assignee of requester" in routed(follow_up).note


def test_follow_up_window_is_limited(cast, make_ticket, settings, now):
    cast.expert_x2.agent_profile.competences.add(cast.diplomas)
    days = settings.HELPDESK["FOLLOWUP_WINDOW_DAYS"]
    first = make_ticket(actor=cast.teacher_a, now=now - datetime.timedelta(days=days + 1))
    busy = first.assignee
    make_ticket(actor=cast.director_a, now=now - datetime.timedelta(days=1))
    make_ticket(actor=cast.secretary_a, now=now - datetime.timedelta(hours=1))
    # busy now carries 2 tickets and the other expert 1
    late = make_ticket(actor=cast.teacher_a, now=now)
    assert late.assignee != busy
    assert "previous assignee" not in routed(late).note


def test_email_follow_up_is_matched_by_address(cast, make_ticket):
    cast.expert_x2.agent_profile.competences.add(cast.diplomas)
    InstitutionDomain.objects.create(institution=cast.school_a, domain="138sou.bg")
    first = email_ticket(make_ticket, "zam@138sou.bg", "Диплома", "Проблем с диплома.")
    make_ticket(actor=cast.director_a)
    make_ticket(actor=cast.secretary_a)
    again = email_ticket(make_ticket, "zam@138sou.bg", "Пак диплома", "Дипломата пак.")
    assert first.assignee is not None and again.assignee == first.assignee


def test_reroute_after_competence_change_keeps_the_new_competence(cast, make_ticket):
    from tickets import actions

    t = make_ticket()
    actions.change_competence(
        ticket=t, actor=cast.expert_x, competence=cast.competences["login"], reroute=True
    )
    t.refresh_from_db()
    assert t.competence == cast.competences["login"] and t.assignee == cast.expert_x2
    rows = TicketEvent.objects.filter(ticket=t, kind=TicketEvent.Kind.ROUTED)
    assert rows.count() == 2


def test_the_candidates_are_read_in_one_statement_with_everything_routing_needs(
    cast, make_ticket, now
):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from tickets import notifications
    from tickets.assignment import agent_infos

    earlier = make_ticket()  # expert_x: one open request (the resolved one is not counted)
    make_ticket(actor=cast.teacher_b, institution=cast.school_b)  # region y: not a candidate
    resolved = make_ticket()
    Ticket.objects.filter(pk=resolved.pk).update(status="resolved")
    AgentSettings.objects.create(user=cast.expert_x)
    Absence.objects.create(
        agent=cast.expert_x2.agent_profile,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(hours=1),
    )
    users = {}
    follow_up = Ticket(requester=cast.teacher_a, created_at=now)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        agents, previous = agent_infos(
            region_id=cast.region_x.pk, now=now, users=users, previous_of=follow_up
        )
    locks = 1 if connection.features.has_select_for_update else 0
    assert len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1 + locks
    by_id = {a.id: a for a in agents}
    assert set(by_id) == {cast.expert_x.pk, cast.expert_x2.pk, cast.central.pk}
    x, x2, central = by_id[cast.expert_x.pk], by_id[cast.expert_x2.pk], by_id[cast.central.pk]
    assert (x.competences, x.open_load, x.absent) == ({"diplomas", "general"}, 1, False)
    assert (x2.competences, x2.open_load, x2.absent) == ({"login", "delegation"}, 0, True)
    assert (central.competences, central.tier, central.region_code) == (
        {"technical"},
        "central",
        None,
    )
    assert (x.region_code, x.capacity, x.name) == ("22", 10, str(cast.expert_x))
    assert previous == earlier.assignee_id == cast.expert_x.pk
    # The experts come with their notification choices: telling them reads nothing.
    with CaptureQueriesContext(connection) as queries:
        assert notifications.settings_for(users[cast.expert_x.pk]).pk is not None
        assert notifications.settings_for(users[cast.expert_x2.pk]).pk is None
    assert queries.captured_queries == []


def test_without_candidates_the_previous_expert_is_not_asked(cast, now):
    from accounts.models import AgentProfile
    from tickets.assignment import agent_infos

    AgentProfile.objects.filter(kind="expert").update(kind="supervisor")
    agents, previous = agent_infos(
        region_id=cast.region_x.pk, now=now, previous_of=Ticket(requester=cast.teacher_a)
    )
    assert (agents, previous) == ([], None)
