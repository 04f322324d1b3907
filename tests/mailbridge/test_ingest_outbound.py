"""What the helpdesk sends back: threading, loop headers, tags, and no duplicates on retries."""

import datetime
import smtplib

import pytest
from django.core import mail as django_mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone

from mailbridge import outbound
from mailbridge.models import UndeliverableAddress
from tests.mailbridge.test_ingest import make_mail
from tickets import actions, outbox
from tickets.models import MailThreadKey, OutboundMail, Ticket


class FlakyBackend(LocmemBackend):
    """Locmem backend that refuses while `down` is true, like an SMTP server that is away."""

    down = False

    def send_messages(self, messages):
        if FlakyBackend.down:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.down = False
    yield FlakyBackend
    FlakyBackend.down = False


@pytest.fixture
def mailed_ticket(cast, django_capture_on_commit_callbacks):
    from mailbridge.ingest import process_message

    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_message(make_mail(message_id="<first@example.org>"))
    return Ticket.objects.get(reference=outcome.ticket)


def test_acknowledgement_threads_under_the_requesters_mail(mailed_ticket, settings):
    [ack] = django_mail.outbox
    headers = ack.extra_headers
    assert ack.subject.startswith(f"[HD#{mailed_ticket.reference}] ")
    assert headers["Auto-Submitted"] == "auto-replied"
    assert headers[settings.HELPDESK["LOOP_HEADER"]] == settings.HELPDESK["INSTANCE_ID"]
    assert headers["In-Reply-To"] == "<first@example.org>"
    assert "<first@example.org>" in headers["References"]
    assert ack.reply_to == [settings.HELPDESK["SUPPORT_ADDRESS"]]
    # Its Message-ID is stored, so a reply to it threads.
    sent_id = headers["Message-ID"].strip("<>")
    key = MailThreadKey.objects.get(mail_id=sent_id)
    assert (key.ticket, key.direction) == (mailed_ticket, "out")
    record = OutboundMail.objects.get(message_id=sent_id)
    assert (record.state, record.attempts, record.kind) == ("sent", 1, "created")


def test_a_person_written_reply_is_not_auto_submitted(
    mailed_ticket, cast, django_capture_on_commit_callbacks
):
    django_mail.outbox.clear()
    Ticket.objects.filter(pk=mailed_ticket.pk).update(assignee=cast.expert_x)
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_message(ticket=mailed_ticket, actor=cast.expert_x, text="Опитайте пак.")
    [reply] = django_mail.outbox
    assert "Auto-Submitted" not in reply.extra_headers
    assert reply.extra_headers["In-Reply-To"] == "<first@example.org>"
    refs = reply.extra_headers["References"].split()
    assert refs[0] == "<first@example.org>" and len(refs) >= 2
    assert f"[HD#{mailed_ticket.reference}]" in reply.subject


def test_smtp_outage_is_retried_without_a_second_copy(
    cast, flaky, django_capture_on_commit_callbacks
):
    from mailbridge.ingest import process_message

    flaky.down = True
    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_message(make_mail())
    ticket = Ticket.objects.get(reference=outcome.ticket)
    record = OutboundMail.objects.get(ticket=ticket)
    assert record.state == "pending" and record.attempts >= 1
    assert "SMTPServerDisconnected" in record.last_error
    assert django_mail.outbox == []

    flaky.down = False
    # The celery task's own retry and the sweep for lost tasks both come by.
    assert outbound.deliver([record.pk]) == 1
    assert outbound.deliver_pending(older_than=datetime.timedelta(0)) == {
        "sent": 0,
        "failed": 0,
        "gave_up": 0,
    }
    assert outbound.deliver([record.pk]) == 0
    assert len(django_mail.outbox) == 1
    record.refresh_from_db()
    assert record.state == "sent"


def test_resend_pending_sends_what_a_lost_task_left(
    cast, flaky, django_capture_on_commit_callbacks
):
    from mailbridge.ingest import process_message

    flaky.down = True
    with django_capture_on_commit_callbacks(execute=True):
        process_message(make_mail())
    flaky.down = False
    record = OutboundMail.objects.get()
    # Too fresh: the celery retry is still expected to come.
    assert outbound.deliver_pending()["sent"] == 0
    OutboundMail.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=10),
        last_attempt_at=timezone.now() - datetime.timedelta(minutes=10),
    )
    assert outbound.deliver_pending()["sent"] == 1
    assert outbound.deliver_pending(older_than=datetime.timedelta(0))["sent"] == 0
    [sent] = django_mail.outbox
    assert sent.extra_headers["Message-ID"] == f"<{record.message_id}>"


def test_a_claimed_record_is_not_sent_by_a_second_sender(mailed_ticket):
    record = OutboundMail.objects.get()
    OutboundMail.objects.filter(pk=record.pk).update(state="pending")
    assert outbound.claim(record)
    assert not outbound.claim(record)
    # The lease runs out if the holder died.
    OutboundMail.objects.filter(pk=record.pk).update(
        locked_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert outbound.claim(record)


def test_undeliverable_addresses_get_no_notifications(
    mailed_ticket, cast, django_capture_on_commit_callbacks
):
    assert outbox.recipients_for("reply", mailed_ticket, None) == [("ivan@example.org", "bg")]
    UndeliverableAddress.objects.create(address="ivan@example.org")
    django_mail.outbox.clear()
    Ticket.objects.filter(pk=mailed_ticket.pk).update(assignee=cast.expert_x)
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_message(ticket=mailed_ticket, actor=cast.expert_x, text="Опитайте пак.")
    # The row is kept (the history of what we owed), marked as not sent.
    row = OutboundMail.objects.get(kind="reply")
    assert row.state == "suppressed"
    assert django_mail.outbox == []


def test_sweep_stops_at_the_first_failure_and_gives_up_on_old_mail(
    cast, flaky, django_capture_on_commit_callbacks
):
    from mailbridge.ingest import process_message

    flaky.down = True
    with django_capture_on_commit_callbacks(execute=True):
        process_message(make_mail())
        process_message(make_mail(sender="other@example.org"))
    assert outbound.deliver_pending(older_than=datetime.timedelta(0)) == {
        "sent": 0,
        "failed": 1,
        "gave_up": 0,
    }
    OutboundMail.objects.update(created_at=timezone.now() - datetime.timedelta(days=3))
    assert outbound.deliver_pending(older_than=datetime.timedelta(0))["gave_up"] == 2
    assert set(OutboundMail.objects.values_list("state", flat=True)) == {"failed"}
