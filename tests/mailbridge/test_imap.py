"""mailbridge.imap against a real Dovecot: TLS, folders, moves, the lease, outages."""

import subprocess
import sys

import pytest
from django.db import OperationalError

from mailbridge import ingest
from mailbridge.imap import MailboxPoller, acquire_lease, poll_once
from mailbridge.models import InboundMessage, Mailbox
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Ticket

pytestmark = pytest.mark.integration


@pytest.fixture
def account(dovecot):
    """A fresh Dovecot account: (address, password)."""
    return dovecot.new_user(), dovecot.password


@pytest.fixture
def mailbox(db, dovecot, account):
    ingest.clear_caches()
    user, password = account
    return Mailbox.objects.create(
        name="support",
        address="support@helpdesk.example",
        host=dovecot.host,
        port=dovecot.ssl_port,
        security="ssl",
        ca_file=dovecot.cafile,
        username=user,
        password=password,
    )


def deliver(dovecot, account, *messages, folder="INBOX"):
    client = dovecot.imap_client(*account)
    try:
        for raw in messages:
            client.append(folder, raw)
    finally:
        client.logout()


def folder_counts(dovecot, account, *folders):
    client = dovecot.imap_client(*account)
    try:
        counts = {}
        for folder in folders:
            if client.folder_exists(folder):
                counts[folder] = client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]
            else:
                counts[folder] = None
        return counts
    finally:
        client.logout()


def seen_flags(dovecot, account, folder):
    client = dovecot.imap_client(*account)
    try:
        client.select_folder(folder, readonly=True)
        return [
            b"\\Seen" in f[b"FLAGS"] for f in client.fetch(client.search("ALL"), ["FLAGS"]).values()
        ]
    finally:
        client.logout()


def test_one_pass_stores_processes_and_moves(cast, dovecot, account, mailbox, monkeypatch):
    real_create = ingest._create

    def create(parsed, *args, **kwargs):
        if "BROKEN" in parsed.subject:
            raise ValueError("cannot route this one")
        return real_create(parsed, *args, **kwargs)

    monkeypatch.setattr(ingest, "_create", create)
    deliver(
        dovecot,
        account,
        make_mail(subject="първо"),
        make_mail(subject="BROKEN"),
        make_mail(subject="трето", headers={"Auto-Submitted": "auto-replied"}),
        make_mail(subject="четвърто"),
    )
    result = poll_once(mailbox)
    assert result.state == "ok", result.error
    assert result.found == 4
    assert dict(result.outcomes) == {"created": 2, "quarantined": 1, "ignored": 1}
    assert folder_counts(dovecot, account, "INBOX", "Processed", "Failed") == {
        "INBOX": 0,
        "Processed": 3,
        "Failed": 1,
    }
    # BODY.PEEK[]: nothing was marked as read by the helpdesk.
    assert not any(seen_flags(dovecot, account, "Processed"))
    rows = InboundMessage.objects.filter(mailbox=mailbox)
    assert sorted(rows.values_list("uid", flat=True)) == [1, 2, 3, 4]
    assert rows.get(state="quarantined").reason.startswith("ValueError")
    mailbox.refresh_from_db()
    assert (mailbox.last_state, mailbox.locked_by) == ("ok", "")
    # The readiness check's "last successful poll" (mailbridge/health.py).
    assert mailbox.last_success_at == mailbox.last_poll_at


def test_starttls_with_a_password_file(cast, dovecot, account, mailbox, tmp_path):
    secret = tmp_path / "imap-password"
    secret.write_text(account[1] + "\n")
    Mailbox.objects.filter(pk=mailbox.pk).update(
        security="starttls", port=dovecot.port, password="", password_file=str(secret)
    )
    mailbox.refresh_from_db()
    deliver(dovecot, account, make_mail())
    result = poll_once(mailbox)
    assert result.state == "ok", result.error
    assert result.outcomes["created"] == 1


def test_wrong_password_is_reported_on_the_mailbox(cast, dovecot, account, mailbox):
    Mailbox.objects.filter(pk=mailbox.pk).update(password="wrong")
    mailbox.refresh_from_db()
    result = poll_once(mailbox)
    assert result.state == "error"
    mailbox.refresh_from_db()
    assert mailbox.last_state == "error" and mailbox.last_error
    assert mailbox.locked_by == ""
    assert mailbox.last_poll_at is not None and mailbox.last_success_at is None


def test_crash_before_the_move_makes_the_next_pass_a_no_op(
    cast, dovecot, account, mailbox, monkeypatch
):
    deliver(dovecot, account, make_mail(subject="а"), make_mail(subject="б"))

    def crash(self, uids, folder):
        raise ConnectionResetError("the poller died before moving")

    monkeypatch.setattr(MailboxPoller, "_move", crash)
    assert poll_once(mailbox).state == "error"
    assert Ticket.objects.count() == 2
    assert folder_counts(dovecot, account, "INBOX")["INBOX"] == 2
    monkeypatch.undo()
    result = poll_once(mailbox)
    assert dict(result.outcomes) == {"duplicate": 2}
    assert Ticket.objects.count() == 2
    assert folder_counts(dovecot, account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 2}


def test_copy_and_expunge_where_there_is_no_move(cast, dovecot, account, mailbox):
    deliver(dovecot, account, make_mail(), make_mail(subject="друго"))
    result = MailboxPoller(mailbox, use_move=False).run_once()
    assert result.state == "ok", result.error
    assert folder_counts(dovecot, account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 2}


def test_database_outage_mid_batch_leaves_the_rest_in_the_inbox(
    cast, dovecot, account, mailbox, monkeypatch
):
    deliver(dovecot, account, *[make_mail(subject=f"писмо {i}") for i in range(5)])
    real = ingest._decide
    calls = {"n": 0}

    def flaky(parsed, row):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OperationalError("could not connect to server: Connection refused")
        return real(parsed, row)

    monkeypatch.setattr(ingest, "_decide", flaky)
    result = poll_once(mailbox)
    assert result.state == "error" and "OperationalError" in result.error
    assert result.moved == 2
    assert folder_counts(dovecot, account, "INBOX", "Processed") == {"INBOX": 3, "Processed": 2}
    # The batch was stored as a whole before processing began: three rows wait.
    assert InboundMessage.objects.filter(state="received").count() == 3
    result = poll_once(mailbox)
    assert result.state == "ok", result.error
    assert dict(result.outcomes) == {"created": 3}
    assert Ticket.objects.count() == 5
    assert folder_counts(dovecot, account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 5}


def test_batches_split_by_count(cast, dovecot, account, mailbox):
    deliver(dovecot, account, *[make_mail(subject=f"№{i}") for i in range(7)])
    result = MailboxPoller(mailbox, batch_messages=3).run_once()
    assert result.outcomes["created"] == 7
    assert folder_counts(dovecot, account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 7}


def test_two_pollers_never_work_one_mailbox(cast, dovecot, account, mailbox):
    deliver(dovecot, account, make_mail())
    assert acquire_lease(mailbox, "otherhost:1:abc", 60)
    assert poll_once(mailbox).state == "busy"
    assert folder_counts(dovecot, account, "INBOX")["INBOX"] == 1
    # A lease left by a process of this host that has ended is taken over.
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    import socket

    dead = f"{socket.gethostname()}:{finished.stdout.strip()}:old"
    Mailbox.objects.filter(pk=mailbox.pk).update(locked_by=dead)
    result = poll_once(mailbox)
    assert result.state == "ok" and result.outcomes["created"] == 1


def test_with_workers_the_poller_stores_hands_over_and_moves(
    cast, dovecot, account, mailbox, monkeypatch
):
    from mailbridge import queue

    sent = []
    monkeypatch.setattr(queue, "in_workers", lambda: True)
    monkeypatch.setattr(queue, "dispatch", lambda count: sent.append(count) or 1)
    deliver(
        dovecot,
        account,
        make_mail(subject="Заявка", message_id="<hand-1@example.org>"),
        make_mail(
            subject="Re: Заявка",
            message_id="<hand-2@example.org>",
            in_reply_to="<hand-1@example.org>",
            references="<hand-1@example.org>",
        ),
    )
    result = poll_once(mailbox)
    assert result.state == "ok", result.error
    assert dict(result.outcomes) == {"received": 2} and sent == [2]
    assert folder_counts(dovecot, account, "INBOX", "Processed") == {"INBOX": 0, "Processed": 2}
    assert Ticket.objects.count() == 0  # nothing processed by the poller
    outcomes = sorted(o.outcome for o in queue.drain().outcomes.values())
    assert outcomes == ["created", "followup"] and Ticket.objects.count() == 1
