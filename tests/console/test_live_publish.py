"""A new request's live update is built from the filed ticket, without reading it again."""

import pytest
from channels.layers import InMemoryChannelLayer

from console import live
from tests.aio import run_coroutine
from tickets import search
from tickets.models import Ticket
from tickets.signals import ticket_changed

pytestmark = pytest.mark.django_db


def test_filing_hands_the_committed_ticket_to_the_live_update(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    ticket_changed.connect(receiver, dispatch_uid="test-live-publish")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = make_ticket()
    finally:
        ticket_changed.disconnect(dispatch_uid="test-live-publish")
    created = [k for k in seen if k["change"] == "created"]
    assert len(created) == 1
    assert created[0]["ticket"] is ticket
    assert created[0]["ticket_id"] == ticket.pk


def test_an_event_from_the_handed_ticket_equals_one_from_the_row(
    cast, make_ticket, monkeypatch, django_assert_num_queries
):
    ticket = make_ticket()
    sent = []

    async def record(layer, groups, event):
        sent.append((sorted(groups), event))

    layer = InMemoryChannelLayer()
    run_coroutine(layer.group_add("all", "console-page"))  # someone listens
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(live, "_send_all", record)
    with django_assert_num_queries(0):
        live.publish_ticket_change(ticket.pk, "created", ticket=ticket)
    with django_assert_num_queries(1):
        live.publish_ticket_change(ticket.pk, "created")
    assert len(sent) == 2
    assert sent[0] == sent[1]
    assert sent[0][1]["reference"] == ticket.reference
    assert sent[0][1]["last_message_id"] == Ticket.objects.get(pk=ticket.pk).last_message_id


def test_a_reply_hands_the_ticket_as_it_leaves_it_to_the_live_update(
    cast, make_ticket, monkeypatch, django_capture_on_commit_callbacks
):
    """The event of a reply (here one that reopens the request) needs no read after the commit."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets import actions
    from tickets.models import Status

    ticket = make_ticket()
    actions.change_status(ticket=ticket, actor=cast.expert_x, status=Status.WAITING)
    sent = []

    async def record(layer, groups, event):
        sent.append(event)

    layer = InMemoryChannelLayer()
    run_coroutine(layer.group_add("all", "console-page"))
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(live, "_send_all", record)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Още е така.")
    with CaptureQueriesContext(connection) as ctx:
        for callback in callbacks:
            callback()
    assert not [q for q in ctx.captured_queries if 'FROM "tickets_ticket"' in q["sql"]]
    [reply] = [event for event in sent if event["change"] == "message"]
    row = Ticket.objects.get(pk=ticket.pk)
    assert reply["message_id"] == message.pk == row.last_message_id
    assert (reply["status"], reply["updated_at"]) == (Status.OPEN, row.updated_at.isoformat())


def test_a_filed_request_is_found_by_its_subject_and_its_text(cast, make_ticket):
    # Its search document is written once, with the first message.
    ticket = make_ticket(subject="Дневникът не се отваря", text="Грешка при вход с парола")
    for words in ("дневникът", "парола"):
        found = search.filter_by_text(Ticket.objects.all(), words)
        assert list(found.values_list("pk", flat=True)) == [ticket.pk]


def test_a_notification_costs_no_count_after_the_commit(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    # The expert's bell count is read by their open console pages when the
    # event reaches them (test_notification_live.py), not by the filing.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.models import Notification

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ticket = make_ticket()
    assert Notification.objects.filter(ticket=ticket, kind="assigned").exists()
    with CaptureQueriesContext(connection) as ctx:
        for callback in callbacks:
            callback()
    assert not [q for q in ctx.captured_queries if "tickets_notification" in q["sql"]]


def test_an_in_process_layer_with_nobody_in_the_groups_sends_nothing(
    cast, make_ticket, monkeypatch
):
    ticket = make_ticket()
    sent = []

    async def record(layer, groups, event):
        sent.append(groups)

    layer = InMemoryChannelLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(live, "_send_all", record)
    live.publish_ticket_change(ticket.pk, "created", ticket=ticket)
    assert sent == []
    run_coroutine(layer.group_add(f"ticket.{ticket.pk}", "console-page"))
    live.publish_ticket_change(ticket.pk, "created", ticket=ticket)
    assert len(sent) == 1
