"""Macros: one click answers and changes a request, as one change with one history line."""

import pytest
from django.utils import translation

from helpdesk.errors import DomainError, InvalidTransition, NotAllowed
from tickets import actions
from tickets.models import Macro, Message, OutboundMail, Ticket, TicketEvent


@pytest.fixture(autouse=True)
def _english():
    # History notes are checked by their English wording.
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def ticket(make_ticket, cast):
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.expert_x, assignee=cast.expert_x)
    return Ticket.objects.get(pk=ticket.pk)


def _events(ticket, since):
    return list(TicketEvent.objects.filter(ticket=ticket, pk__gt=since).order_by("pk"))


def _last_event_id():
    last = TicketEvent.objects.order_by("-pk").first()
    return last.pk if last else 0


def test_macro_replies_and_changes_status_priority_in_one_history_line(cast, ticket):
    macro = Macro.objects.create(
        title="Чакаме скан",
        body="Здравейте, {{requester}}! Изпратете сканираната диплома по {{reference}}.",
        status="waiting",
        priority="high",
    )
    before = _last_event_id()
    mail_before = OutboundMail.objects.filter(kind="reply").count()
    with translation.override("en"):  # the history note is written in the actor's language
        result = actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro, minutes=5)

    ticket.refresh_from_db()
    assert ticket.status == "waiting"
    assert ticket.priority == "high"
    events = _events(ticket, before)
    assert [e.kind for e in events] == [TicketEvent.Kind.MACRO]
    assert events[0].new_value == "Чакаме скан"
    assert "reply #" in events[0].note and "priority" in events[0].note
    message = result.message
    assert message.kind == Message.Kind.PUBLIC
    assert message.body_text == (
        f"Здравейте, Учител А! Изпратете сканираната диплома по {ticket.reference}."
    )
    assert message.minutes_spent == 5
    mails = OutboundMail.objects.filter(kind="reply", ticket_message=message)
    assert OutboundMail.objects.filter(kind="reply").count() == mail_before + 1
    assert list(mails.values_list("recipients", flat=True)) == [[cast.teacher_a.email]]


def test_macro_without_text_changes_competence_and_returns_to_the_queue(cast, ticket):
    macro = Macro.objects.create(
        title="Към вход", competence=cast.competences["general"], assign="queue"
    )
    before = _last_event_id()
    result = actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro)
    ticket.refresh_from_db()
    assert result.message is None
    assert ticket.competence == cast.competences["general"]
    assert ticket.assignee is None
    assert [e.kind for e in _events(ticket, before)] == [TicketEvent.Kind.MACRO]


def test_a_refused_step_writes_nothing(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="closed")
    ticket.refresh_from_db()
    macro = Macro.objects.create(
        title="Отвори", body="Отваряме пак.", priority="urgent", status="open"
    )
    before = _last_event_id()
    messages_before = Message.objects.filter(ticket=ticket).count()
    with pytest.raises(InvalidTransition):
        actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro)
    ticket.refresh_from_db()
    assert ticket.priority == "normal"  # the priority step ran first and was rolled back
    assert Message.objects.filter(ticket=ticket).count() == messages_before
    assert _events(ticket, before) == []


def test_unfilled_placeholders_are_never_sent(cast, ticket):
    macro = Macro.objects.create(title="Статия", body="Прочетете {{kb:no-such}}", status="waiting")
    with pytest.raises(DomainError, match="no-such"):
        actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro, kb_link=lambda s: None)
    ticket.refresh_from_db()
    assert ticket.status != "waiting"
    filled = actions.apply_macro(
        ticket=ticket,
        actor=cast.expert_x,
        macro=macro,
        kb_link=lambda slug: f"https://helpdesk.test/kb/bg/{slug}/",
    )
    assert filled.message.body_text == "Прочетете https://helpdesk.test/kb/bg/no-such/"


def test_personal_macros_are_their_owners_and_nobody_elses(cast, ticket):
    mine = Macro.objects.create(owner=cast.expert_x2, title="Моят", priority="low")
    assert mine not in actions.macros_for(cast.expert_x)
    assert mine in actions.macros_for(cast.expert_x2)
    with pytest.raises(NotAllowed):
        actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=mine)


def test_only_agents_who_may_see_the_request_apply_macros(cast, ticket):
    macro = Macro.objects.create(title="Вземи", assign="me")
    with pytest.raises(NotAllowed):
        actions.apply_macro(ticket=ticket, actor=cast.teacher_a, macro=macro)
    with pytest.raises(NotAllowed):
        actions.apply_macro(ticket=ticket, actor=cast.expert_y, macro=macro)


def test_a_macro_that_changes_nothing_is_refused(cast, ticket):
    macro = Macro.objects.create(title="Пак моя", assign="me")
    with pytest.raises(DomainError):
        actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro)


def test_an_internal_note_cannot_resolve(cast, ticket):
    macro = Macro.objects.create(
        title="Тихо", body="само за нас", reply_kind="internal", status="resolved"
    )
    with pytest.raises(DomainError):
        actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro)
    ticket.refresh_from_db()
    assert ticket.status != "resolved"


def test_resolving_macro_mails_the_resolution(cast, ticket):
    macro = Macro.objects.create(title="Решено", body="Готово, {{requester}}.", status="resolved")
    actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro)
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert OutboundMail.objects.filter(ticket=ticket, kind="resolved").count() == 1
    assert OutboundMail.objects.filter(ticket=ticket, kind="reply").count() == 1


def test_macro_tags_the_request_within_its_one_history_line(cast, ticket):
    actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["стар"])
    macro = Macro.objects.create(
        title="Зрелост", add_tags="зрелост-2026, Диплома", remove_tags="стар", status="waiting"
    )
    before = _last_event_id()
    actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro)
    assert sorted(t.name for t in ticket.tags.all()) == ["Диплома", "зрелост-2026"]
    [event] = _events(ticket, before)
    assert event.kind == TicketEvent.Kind.MACRO
    assert "зрелост-2026" in event.note and "стар" in event.note


def test_a_macro_with_a_bad_tag_is_refused_when_saved_and_writes_nothing_when_used(cast, ticket):
    with pytest.raises(DomainError):
        actions.save_personal_macro(
            actor=cast.expert_x, values={"title": "Лош", "add_tags": "x" * 41}
        )
    macro = Macro.objects.create(title="Лош", add_tags="x" * 41, priority="high")
    before = _last_event_id()
    with pytest.raises(DomainError):
        actions.apply_macro(ticket=ticket, actor=cast.expert_x, macro=macro)
    ticket.refresh_from_db()
    assert ticket.priority != "high" and not ticket.tags.exists()
    assert _events(ticket, before) == []
