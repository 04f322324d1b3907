"""Handing over an absent expert's open requests: the service, the command, the admin action."""

import datetime
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Absence, AgentProfile, User
from helpdesk.errors import DomainError, NotAllowed
from tickets import actions, policies
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def agent(email, name, **profile):
    competences = profile.pop("competences", [])
    user = User.objects.create_user(email=email, password="pw-Secret-123", full_name=name)
    AgentProfile.objects.create(user=user, **profile).competences.set(competences)
    return user


@pytest.fixture
def team(cast):
    """Two more diploma experts of region X and a supervisor of region Y."""
    cast.expert_x3 = agent(
        "expert.x3@ruo.bg",
        "Експерт X3",
        tier="regional",
        region=cast.region_x,
        competences=[cast.diplomas],
        capacity=10,
    )
    cast.expert_x4 = agent(
        "expert.x4@ruo.bg",
        "Експерт X4",
        tier="regional",
        region=cast.region_x,
        competences=[cast.diplomas],
        capacity=10,
    )
    cast.supervisor_y = agent(
        "supervisor.y@ruo.bg",
        "Началник Y",
        tier="regional",
        kind="supervisor",
        region=cast.region_y,
    )
    return cast


@pytest.fixture
def expert_x_tickets(team, make_ticket):
    """Three open requests of expert X and one resolved one; expert X is then absent."""
    tickets = [make_ticket(subject=f"Диплома {i}") for i in range(4)]
    assert all(t.assignee_id == team.expert_x.pk for t in tickets)
    actions.change_status(ticket=tickets[3], actor=team.expert_x, status="resolved")
    now = timezone.now()
    Absence.objects.create(
        agent=team.expert_x.agent_profile,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(days=10),
    )
    return tickets[:3], tickets[3]


def reload(ticket):
    ticket.refresh_from_db()
    return ticket


def handover_rows(ticket):
    # Nothing else in these tests writes ASSIGNED rows (routing writes ROUTED).
    return list(TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.ASSIGNED))


def test_it_hands_all_open_requests_to_one_colleague(team, expert_x_tickets):
    open_tickets, resolved = expert_x_tickets

    moved = actions.hand_over_open_tickets(
        from_agent=team.expert_x,
        actor=team.supervisor_x,
        to_agent=team.expert_x3,
        reason="болничен",
    )

    assert sorted(t.pk for t in moved) == sorted(t.pk for t in open_tickets)
    for n, ticket in enumerate(open_tickets, start=1):
        assert reload(ticket).assignee == team.expert_x3
        (row,) = handover_rows(ticket)
        assert (row.actor, row.channel, row.field) == (team.supervisor_x, "console", "assignee")
        assert (row.old_value, row.new_value) == ("Експерт X", "Експерт X3")
        assert "болничен" in row.note
        assert f"load {n}/10" in row.note
    assert reload(resolved).assignee == team.expert_x, "closed work keeps its expert"
    assert not handover_rows(resolved)
    assert AgentProfile.objects.get(user=team.expert_x3).last_assigned_at is not None


def test_it_routes_each_request_again_without_the_absent_expert(team, expert_x_tickets):
    open_tickets, _resolved = expert_x_tickets
    AgentProfile.objects.filter(user=team.expert_x3).update(capacity=1)

    actions.hand_over_open_tickets(
        from_agent=team.expert_x, actor=team.supervisor_x, reason="отпуск"
    )

    assignees = [reload(t).assignee for t in open_tickets]
    assert team.expert_x not in assignees
    assert assignees.count(team.expert_x3) == 1, "capacity 1"
    assert assignees.count(team.expert_x4) == 2
    for ticket in open_tickets:
        ticket = reload(ticket)
        assert (ticket.region, ticket.competence, ticket.tier) == (
            team.region_x,
            team.diplomas,
            "regional",
        )
        (row,) = handover_rows(ticket)
        assert "отпуск" in row.note and "experts of region 22 with diplomas" in row.note


def test_what_nobody_can_take_goes_to_the_competence_queue(team, expert_x_tickets):
    open_tickets, _resolved = expert_x_tickets
    AgentProfile.objects.filter(user__in=[team.expert_x3, team.expert_x4]).update(capacity=1)

    actions.hand_over_open_tickets(from_agent=team.expert_x, actor=team.admin, reason="напусна")

    assignees = [reload(t).assignee for t in open_tickets]
    assert sorted(a.email for a in assignees if a) == ["expert.x3@ruo.bg", "expert.x4@ruo.bg"]
    (queued,) = [t for t in open_tickets if reload(t).assignee is None]
    (row,) = handover_rows(queued)
    assert row.new_value == ""
    assert "2 qualified, 0 absent, 2 at capacity" in row.note


def test_central_requests_stay_with_central_support(team, make_ticket):
    central2 = agent(
        "central2@mon.bg", "Централна 2", tier="central", competences=[team.technical], capacity=5
    )
    ticket = make_ticket(competence=team.technical, subject="Модулът дава грешка")
    assert (ticket.tier, ticket.assignee) == ("central", team.central)
    with pytest.raises(NotAllowed):
        actions.hand_over_open_tickets(
            from_agent=team.central, actor=team.supervisor_x, reason="отпуск"
        )

    actions.hand_over_open_tickets(
        from_agent=team.central, actor=team.supervisor_all, reason="отпуск"
    )

    ticket = reload(ticket)
    assert (ticket.tier, ticket.assignee) == ("central", central2)


@pytest.mark.parametrize(
    "who, allowed",
    [
        ("supervisor_x", True),
        ("supervisor_all", True),
        ("admin", True),
        ("supervisor_y", False),
        ("expert_x2", False),
        ("expert_x3", False),
        ("director_a", False),
        ("outsider", False),
    ],
)
def test_only_the_regions_supervisor_or_an_administrator_may_hand_over(
    team, expert_x_tickets, who, allowed
):
    open_tickets, _resolved = expert_x_tickets
    actor = getattr(team, who)
    assert policies.may_hand_over(actor, team.expert_x) is allowed
    if allowed:
        actions.hand_over_open_tickets(
            from_agent=team.expert_x, actor=actor, to_agent=team.expert_x3, reason="отпуск"
        )
        assert all(reload(t).assignee == team.expert_x3 for t in open_tickets)
        return
    with pytest.raises(NotAllowed):
        actions.hand_over_open_tickets(
            from_agent=team.expert_x, actor=actor, to_agent=team.expert_x3, reason="отпуск"
        )
    assert all(reload(t).assignee == team.expert_x for t in open_tickets)
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.ASSIGNED).exists()


def test_a_colleague_of_another_region_is_refused_and_nothing_moves(team, expert_x_tickets):
    open_tickets, _resolved = expert_x_tickets
    with pytest.raises(DomainError) as refused:
        actions.hand_over_open_tickets(
            from_agent=team.expert_x, actor=team.admin, to_agent=team.expert_y, reason="отпуск"
        )
    assert refused.value.field == "to_agent"
    assert all(t.reference in refused.value.message for t in open_tickets)
    assert all(reload(t).assignee == team.expert_x for t in open_tickets)


@pytest.mark.parametrize(
    "to, reason, field",
    [
        ("expert_x", "отпуск", "to_agent"),
        ("teacher_a", "отпуск", "to_agent"),
        (None, "  ", "reason"),
    ],
)
def test_bad_input_is_refused(team, expert_x_tickets, to, reason, field):
    with pytest.raises(DomainError) as refused:
        actions.hand_over_open_tickets(
            from_agent=team.expert_x,
            actor=team.supervisor_x,
            to_agent=getattr(team, to) if to else None,
            reason=reason,
        )
    assert refused.value.field == field


def test_someone_without_requests_hands_over_nothing(team):
    assert (
        actions.hand_over_open_tickets(
            from_agent=team.expert_x4, actor=team.supervisor_x, reason="отпуск"
        )
        == []
    )


# --- management command -------------------------------------------------------------


def test_command_hands_over_to_a_colleague(team, expert_x_tickets, capsys):
    open_tickets, _resolved = expert_x_tickets
    call_command(
        "hand_over", "--from", "Expert.X@ruo.bg", "--to", "expert.x3@ruo.bg", "--reason", "отпуск"
    )
    out = capsys.readouterr().out
    assert "Handed over 3 open requests." in out
    for ticket in open_tickets:
        assert f"{ticket.reference} -> Експерт X3" in out
        (row,) = handover_rows(ticket)
        assert (row.actor, row.channel) == (None, "system")


def test_command_routes_again_without_to(team, expert_x_tickets, capsys):
    open_tickets, _resolved = expert_x_tickets
    call_command("hand_over", "--from", "expert.x@ruo.bg", "--reason", "отпуск")
    assert all(reload(t).assignee in (team.expert_x3, team.expert_x4) for t in open_tickets)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from", "nobody@ruo.bg", "--reason", "x"], "nobody has the address"),
        (
            ["--from", "teacher.a@edu.mon.bg", "--reason", "x"],
            _("Only support staff have requests to hand over."),
        ),
        (
            ["--from", "expert.x@ruo.bg", "--to", "expert.x@ruo.bg", "--reason", "x"],
            _("Choose a colleague, not the same person."),
        ),
    ],
)
def test_command_errors(team, expert_x_tickets, args, message):
    with pytest.raises(CommandError, match=re.escape(str(message))):
        call_command("hand_over", *args)


# --- admin action -------------------------------------------------------------------


def test_admin_action_asks_then_hands_over(team, expert_x_tickets, client):
    open_tickets, _resolved = expert_x_tickets
    client.force_login(team.admin)
    url = reverse("admin:accounts_agentprofile_changelist")
    profile = team.expert_x.agent_profile
    selected = {"action": "hand_over_open_tickets", "_selected_action": [profile.pk]}

    page = client.post(url, selected)
    assert page.status_code == 200
    assert "Експерт X" in page.content.decode()
    assert 'name="reason"' in page.content.decode()
    assert all(reload(t).assignee == team.expert_x for t in open_tickets)

    done = client.post(
        url, {**selected, "apply": "1", "to_agent": team.expert_x3.pk, "reason": "отпуск"}
    )
    assert done.status_code == 302
    assert all(reload(t).assignee == team.expert_x3 for t in open_tickets)
    row = handover_rows(open_tickets[0])[0]
    assert (row.actor, row.channel) == (team.admin, "console")


def test_admin_action_without_reason_shows_the_form_again(team, expert_x_tickets, client):
    open_tickets, _resolved = expert_x_tickets
    client.force_login(team.admin)
    url = reverse("admin:accounts_agentprofile_changelist")
    page = client.post(
        url,
        {
            "action": "hand_over_open_tickets",
            "_selected_action": [team.expert_x.agent_profile.pk],
            "apply": "1",
            "reason": "",
        },
    )
    assert page.status_code == 200
    assert page.context["form"].errors["reason"]
    assert all(reload(t).assignee == team.expert_x for t in open_tickets)


def test_handed_over_requests_count_as_open_load(team, expert_x_tickets):
    actions.hand_over_open_tickets(
        from_agent=team.expert_x, actor=team.admin, to_agent=team.expert_x3, reason="отпуск"
    )
    assert Ticket.objects.filter(assignee=team.expert_x3).open().count() == 3
