"""People on a request: who may add whom, history, visibility and copies of replies."""

import pytest

from helpdesk.errors import DomainError, NotAllowed
from tickets import actions
from tickets.models import OutboundMail, Ticket, TicketEvent, Watcher

pytestmark = pytest.mark.django_db


def recipients_of(ticket):
    return {a for mail in OutboundMail.objects.filter(ticket=ticket) for a in mail.recipients}


def test_an_agent_adds_an_address_and_it_gets_the_next_public_reply(cast, make_ticket):
    ticket = make_ticket()
    watcher = actions.add_watcher(ticket, actor=cast.expert_x, email=" Parent@Example.org ")
    assert watcher.email == "parent@example.org" and watcher.user is None
    event = TicketEvent.objects.filter(ticket=ticket, kind="watcher").get()
    assert event.new_value == "parent@example.org" and event.actor == cast.expert_x
    actions.add_message(ticket=ticket, actor=cast.expert_x, channel="console", text="Готово.")
    assert "parent@example.org" in recipients_of(ticket)


def test_adding_twice_writes_one_row_and_one_history_line(cast, make_ticket):
    ticket = make_ticket()
    first = actions.add_watcher(ticket, actor=cast.expert_x, email="a@example.org")
    again = actions.add_watcher(ticket, actor=cast.expert_x, email="A@example.org")
    assert first.pk == again.pk
    assert TicketEvent.objects.filter(ticket=ticket, kind="watcher").count() == 1


def test_a_known_address_becomes_the_person_who_then_sees_the_request(cast, make_ticket):
    ticket = make_ticket()
    assert not Ticket.objects.visible_to(cast.teacher_b).filter(pk=ticket.pk).exists()
    watcher = actions.add_watcher(ticket, actor=cast.expert_x, email=cast.teacher_b.email)
    assert watcher.user == cast.teacher_b
    assert Ticket.objects.visible_to(cast.teacher_b).filter(pk=ticket.pk).exists()


def test_staff_may_follow_but_not_copy_strangers(cast, make_ticket):
    ticket = make_ticket()
    watcher = actions.add_watcher(
        ticket, actor=cast.teacher_a_colleague, user=cast.teacher_a_colleague, source="follow"
    )
    assert Ticket.objects.visible_to(cast.teacher_a_colleague).filter(pk=ticket.pk).exists()
    with pytest.raises(NotAllowed):
        actions.add_watcher(ticket, actor=cast.teacher_b, user=cast.teacher_b)
    with pytest.raises(DomainError):
        actions.add_watcher(ticket, actor=cast.teacher_a, user=cast.teacher_b)
    watcher.delete()
    with pytest.raises(NotAllowed):
        actions.add_watcher(ticket, actor=cast.teacher_a, email="someone@example.org")
    assert not Watcher.objects.exists()


def test_the_requester_is_not_a_watcher_of_their_own_request(cast, make_ticket):
    ticket = make_ticket()
    with pytest.raises(DomainError):
        actions.add_watcher(ticket, actor=cast.expert_x, user=ticket.requester)


def test_bad_addresses_are_refused_with_a_message(cast, make_ticket):
    ticket = make_ticket()
    for bad in ["", "not-an-address", "a@" + "b" * 300 + ".bg"]:
        with pytest.raises(DomainError):
            actions.add_watcher(ticket, actor=cast.expert_x, email=bad)
    assert not Watcher.objects.exists()


def test_removal_is_recorded_and_stops_the_copies(cast, make_ticket):
    ticket = make_ticket()
    watcher = actions.add_watcher(ticket, actor=cast.expert_x, email="a@example.org")
    actions.remove_watcher(watcher, actor=cast.expert_x)
    assert not Watcher.objects.exists()
    removed = TicketEvent.objects.filter(ticket=ticket, kind="watcher", old_value="a@example.org")
    assert removed.exists()
    OutboundMail.objects.all().delete()
    actions.add_message(ticket=ticket, actor=cast.expert_x, channel="console", text="Готово.")
    assert recipients_of(ticket) and "a@example.org" not in recipients_of(ticket)
