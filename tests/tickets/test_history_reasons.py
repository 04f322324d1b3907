"""Why a ticket went where it went: routing, escalation, reassignment and the queue in history."""

import pytest
from django.utils.translation import gettext as _

from accounts.models import AgentProfile, User
from helpdesk.errors import DomainError
from tickets import actions
from tickets.models import TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(cast):
    """A second diploma expert of region X."""
    user = User.objects.create_user(email="expert.x3@ruo.bg", password=None, full_name="Експерт X3")
    profile = AgentProfile.objects.create(
        user=user, tier="regional", region=cast.region_x, capacity=10
    )
    profile.competences.set([cast.diplomas])
    return user


def rows(ticket, kind):
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind).order_by("id"))


def routed_note(ticket):
    (row,) = rows(ticket, TicketEvent.Kind.ROUTED)
    return row


def assert_in_order(text, *parts):
    """Each part occurs in `text`, after the previous one."""
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} not found (in order) in {text!r}"
        position = found + len(part)


# --- routing ------------------------------------------------------------------------


def test_routed_note_explains_region_competence_and_load(cast, make_ticket):
    for i in range(3):
        make_ticket(actor=cast.director_a, subject=f"По-ранна заявка {i}")
    ticket = actions.create_ticket(
        actor=None,
        channel="email",
        requester_email="someone@abv.bg",
        subject="Въпрос за диплома",
        text="Пиша от училище с код 2206409. Не можем да въведем дипломата на ученик.",
    )
    row = routed_note(ticket)
    assert (row.field, row.new_value, row.channel) == ("queue", "assigned", "email")
    assert ticket.assignee == cast.expert_x
    assert row.note == (
        "institution 2206409 from code in text; "
        "region 22 from institution 2206409; "
        "competence diplomas from keywords 'диплом'; "
        "tier regional from competence diplomas; "
        "assigned to Експерт X: load 3/10, least loaded of 1 experts of region 22 with diplomas"
    )


def test_routed_note_for_a_portal_request_names_the_requesters_choice(cast, make_ticket):
    ticket = make_ticket()
    assert_in_order(
        routed_note(ticket).note,
        "institution 2206409 given with request",
        "region 22 from institution 2206409",
        "competence diplomas chosen by requester",
        "assigned to Експерт X: load 0/10",
    )


def test_routed_note_for_a_follow_up_names_the_previous_expert(cast, make_ticket, colleague):
    first = make_ticket()
    assert first.assignee == cast.expert_x
    AgentProfile.objects.filter(user=cast.expert_x).update(last_assigned_at=first.created_at)
    second = make_ticket(subject="Още за дипломата")
    assert second.assignee == cast.expert_x, "the colleague has less load, but continuity wins"
    assert "assigned to Експерт X: previous assignee of requester, load 1/10" in (
        routed_note(second).note
    )


def test_routed_note_for_triage(cast):
    ticket = actions.create_ticket(
        actor=None,
        channel="email",
        requester_email="someone@abv.bg",
        subject="Здравейте",
        text="Имам въпрос.",
    )
    row = routed_note(ticket)
    assert row.new_value == "triage"
    assert ticket.assignee is None and ticket.region is None
    assert_in_order(row.note, "institution unknown", "region unknown", "triage")


def test_routed_note_when_the_experts_are_full(cast, make_ticket):
    AgentProfile.objects.filter(user=cast.expert_x).update(capacity=1)
    make_ticket(actor=cast.director_a)
    ticket = make_ticket()
    row = routed_note(ticket)
    assert (row.new_value, ticket.assignee) == ("competence_queue", None)
    assert "no assignee among experts of region 22 with diplomas: 1 qualified" in row.note
    assert "1 at capacity" in row.note


def test_technical_faults_go_to_central_support_with_the_reason(cast, make_ticket):
    ticket = make_ticket(competence=cast.technical, subject="Модулът дава грешка")
    assert (ticket.tier, ticket.assignee) == ("central", cast.central)
    assert_in_order(
        routed_note(ticket).note,
        "region 22 from institution 2206409",
        "tier central from competence technical",
        "assigned to Централна поддръжка",
    )


# --- escalation ---------------------------------------------------------------------


def test_escalation_to_central_and_back_is_recorded_with_reasons(cast, make_ticket):
    ticket = make_ticket()

    actions.escalate(ticket=ticket, actor=cast.expert_x, tier="central", reason="Грешка в модула")
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.assignee) == ("central", None)

    actions.escalate(
        ticket=ticket, actor=cast.central, tier="regional", reason="Не е техническа грешка"
    )
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.assignee) == ("regional", None)

    up, down = rows(ticket, TicketEvent.Kind.ESCALATED)
    assert (up.actor, up.field, up.old_value, up.new_value, up.note) == (
        cast.expert_x,
        "tier",
        "regional",
        "central",
        "Грешка в модула",
    )
    assert (down.actor, down.old_value, down.new_value, down.note) == (
        cast.central,
        "central",
        "regional",
        "Не е техническа грешка",
    )


def test_escalation_needs_a_reason_and_writes_nothing_without(cast, make_ticket):
    ticket = make_ticket()
    with pytest.raises(DomainError) as refused:
        actions.escalate(ticket=ticket, actor=cast.expert_x, tier="central", reason="  ")
    assert refused.value.field == "reason"
    assert rows(ticket, TicketEvent.Kind.ESCALATED) == []
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.assignee) == ("regional", cast.expert_x)


# --- reassignment and the queue ---------------------------------------------------------


def test_reassigning_to_a_colleague_records_the_reason(cast, make_ticket, colleague):
    ticket = make_ticket()
    actions.assign(
        ticket=ticket, actor=cast.expert_x, assignee=colleague, reason="Тя води този регистър"
    )
    (row,) = rows(ticket, TicketEvent.Kind.ASSIGNED)
    assert (row.actor, row.field, row.old_value, row.new_value, row.note) == (
        cast.expert_x,
        "assignee",
        "Експерт X",
        "Експерт X3",
        "Тя води този регистър",
    )


def test_returning_to_the_queue_and_taking_again_are_recorded(cast, make_ticket, colleague):
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.expert_x, assignee=None, reason="Отпуск от утре")
    ticket.refresh_from_db()
    assert ticket.assignee is None
    actions.take(ticket=ticket, actor=colleague)

    back, taken = rows(ticket, TicketEvent.Kind.ASSIGNED)
    assert (back.old_value, back.new_value, back.note) == (
        "Експерт X",
        "",
        "Отпуск от утре",
    )
    assert (taken.actor, taken.old_value, taken.new_value, taken.note) == (
        colleague,
        "",
        "Експерт X3",
        _("taken from the queue"),
    )


def test_supervisor_reassignment_across_experts_keeps_each_step(cast, make_ticket, colleague):
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.supervisor_x, assignee=colleague, reason="баланс")
    actions.assign(ticket=ticket, actor=cast.supervisor_x, assignee=cast.expert_x, reason="обратно")
    steps = [(r.old_value, r.new_value, r.note) for r in rows(ticket, TicketEvent.Kind.ASSIGNED)]
    assert steps == [
        ("Експерт X", "Експерт X3", "баланс"),
        ("Експерт X3", "Експерт X", "обратно"),
    ]
