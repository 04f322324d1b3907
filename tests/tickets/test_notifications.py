"""Agents' notifications: their choices per kind and way, mentions, and nothing leaked."""

import datetime

import pytest
from django.utils import timezone

from accounts.models import Absence
from helpdesk.errors import NotAllowed
from tickets import actions, notifications
from tickets.actions.sla import warn
from tickets.models import AgentSettings, Notification, OutboundMail, Ticket


def _prefs(user, **choices):
    row, _created = AgentSettings.objects.get_or_create(user=user)
    for name, value in choices.items():
        setattr(row, name, value)
    row.save()


def _notes(user, kind):
    return list(Notification.objects.filter(recipient=user, kind=kind))


def _mail(kind, user):
    return [r for r in OutboundMail.objects.filter(kind=kind) if r.recipients == [user.email]]


# --- preferences ------------------------------------------------------------------------


def test_assignment_by_a_colleague_notifies_in_the_console_by_default(cast, make_ticket):
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.supervisor_x, assignee=cast.expert_x2)
    [row] = _notes(cast.expert_x2, "assigned")
    assert row.ticket == ticket and row.actor == cast.supervisor_x and row.read_at is None
    assert _mail("assigned", cast.expert_x2) == []  # mail for assignments is off by default


def test_assignment_mail_when_chosen_and_console_off(cast, make_ticket):
    _prefs(cast.expert_x2, assigned_console=False, assigned_mail=True)
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.supervisor_x, assignee=cast.expert_x2)
    assert _notes(cast.expert_x2, "assigned") == []
    [mail] = _mail("assigned", cast.expert_x2)
    assert mail.ticket == ticket


def test_routing_a_new_request_to_an_expert_notifies_them(cast, make_ticket):
    ticket = make_ticket()
    assert ticket.assignee == cast.expert_x  # routing chose the diplomas expert of region X
    [row] = _notes(cast.expert_x, "assigned")
    assert row.ticket == ticket and row.actor == cast.teacher_a


def test_taking_a_request_oneself_notifies_nobody(cast, make_ticket):
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.supervisor_x, assignee=None)
    actions.take(ticket=ticket, actor=cast.expert_x2)
    assert _notes(cast.expert_x2, "assigned") == []


def test_requester_reply_notifies_the_assignee_as_chosen(cast, make_ticket):
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.expert_x, assignee=cast.expert_x)
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Още нещо")
    assert len(_notes(cast.expert_x, "reply")) == 1
    assert len(_mail("requester_replied", cast.expert_x)) == 1

    _prefs(cast.expert_x, reply_console=False, reply_mail=False)
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="И още")
    assert len(_notes(cast.expert_x, "reply")) == 1
    assert len(_mail("requester_replied", cast.expert_x)) == 1


def test_sla_warning_follows_the_choice(cast, make_ticket):
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.expert_x, assignee=cast.expert_x)
    _prefs(cast.expert_x, sla_mail=False)
    now = timezone.now()
    assert warn(ticket.pk, now + datetime.timedelta(minutes=30), now)
    assert len(_notes(cast.expert_x, "sla")) == 1
    assert _mail("sla_warning", cast.expert_x) == []


def test_saving_preferences_turns_off_what_is_not_given(cast):
    row = actions.save_agent_settings(
        actor=cast.expert_x,
        signature_bg="Поздрави,\nЕксперт X",
        preferences={"mention_console": True, "assigned_mail": "on"},
    )
    assert row.mention_console and row.assigned_mail
    assert not row.reply_mail and not row.sla_console
    assert row.signature("bg") == "Поздрави,\nЕксперт X"
    assert row.signature("en") == "Поздрави,\nЕксперт X"  # the other one when English is empty


def test_preferences_are_for_agents_only(cast):
    with pytest.raises(NotAllowed):
        actions.save_agent_settings(actor=cast.teacher_a, preferences={})


def test_mark_read_touches_only_ones_own(cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(ticket=ticket, actor=cast.expert_x2, kind="internal", text="@expert.x")
    actions.add_message(ticket=ticket, actor=cast.expert_x, kind="internal", text="@expert.x2")
    [mine] = _notes(cast.expert_x, "mention")
    [theirs] = _notes(cast.expert_x2, "mention")
    before = notifications.unread_count(cast.expert_x)
    assert actions.mark_notifications_read(actor=cast.expert_x, ids=[mine.pk, theirs.pk]) == 1
    assert notifications.unread_count(cast.expert_x) == before - 1
    assert notifications.unread_count(cast.expert_x2) == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None and theirs.read_at is None


# --- mentions ---------------------------------------------------------------------------


def test_mention_notifies_a_colleague_who_may_see_the_request(cast, make_ticket):
    ticket = make_ticket()
    note = actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        kind="internal",
        text="@expert.x2 виж това, моля (копие до @Expert.X2.)",
    )
    assert note.mentioned == [cast.expert_x2]
    assert note.mention_refused == []
    [row] = _notes(cast.expert_x2, "mention")
    assert row.message == note and row.actor == cast.expert_x
    # Away (no console connected): the mention is mailed too, once.
    [mail] = _mail("mention", cast.expert_x2)
    assert mail.ticket_message == note


def test_mention_is_not_mailed_to_a_colleague_with_the_console_open(cast, make_ticket):
    notifications.mark_online(cast.expert_x2.pk)
    actions.add_message(
        ticket=make_ticket(), actor=cast.expert_x, kind="internal", text="@expert.x2 ела"
    )
    assert len(_notes(cast.expert_x2, "mention")) == 1
    assert _mail("mention", cast.expert_x2) == []


def test_mention_is_mailed_to_an_absent_colleague_even_if_connected(cast, make_ticket):
    notifications.mark_online(cast.expert_x2.pk)
    now = timezone.now()
    Absence.objects.create(
        agent=cast.expert_x2.agent_profile,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(days=1),
    )
    actions.add_message(
        ticket=make_ticket(), actor=cast.expert_x, kind="internal", text="@expert.x2 ела"
    )
    assert len(_mail("mention", cast.expert_x2)) == 1


def test_mention_of_someone_who_may_not_see_the_request_notifies_nobody(cast, make_ticket):
    ticket = make_ticket()  # region X; expert Y works in region Y
    mail_before = OutboundMail.objects.count()
    note = actions.add_message(
        ticket=ticket, actor=cast.expert_x, kind="internal", text="@expert.y знаеш ли?"
    )
    assert note.mentioned == []
    assert note.mention_refused == ["expert.y"]
    assert Notification.objects.filter(kind="mention").count() == 0
    assert OutboundMail.objects.count() == mail_before
    assert not Ticket.objects.visible_to(cast.expert_y).filter(pk=ticket.pk).exists()


def test_mentions_in_public_replies_and_of_non_agents_notify_nobody(cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="@expert.x2 публично")
    note = actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        kind="internal",
        text="@teacher.a @director.a @nobody пишете на teacher@expert.x2.bg",
    )
    assert note.mentioned == [] and note.mention_refused == []
    assert Notification.objects.filter(kind="mention").count() == 0


def test_mention_handles_are_bounded_and_distinct():
    text = " ".join(f"@a{i} @a{i}" for i in range(100)) + " mail@example.com"
    handles = notifications.mentioned_handles(text)
    assert len(handles) == notifications.MAX_MENTIONS
    assert handles[:2] == ["a0", "a1"]
    assert "example.com" not in " ".join(handles)


def test_notifications_of_requests_no_longer_visible_leave_the_count(cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(ticket=ticket, actor=cast.expert_x, kind="internal", text="@expert.x2 ?")
    assert notifications.unread_count(cast.expert_x2) == 1
    actions.escalate(ticket=ticket, actor=cast.expert_x, tier="central", reason="техническо")
    Ticket.objects.filter(pk=ticket.pk).update(region=cast.region_y)
    assert notifications.unread_count(cast.expert_x2) == 0
