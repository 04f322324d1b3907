"""The admin's side of mail: mailbox passwords stay hidden, quarantine can be re-run."""

import pytest

from mailbridge import ingest
from mailbridge.models import InboundMessage, Mailbox
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Ticket


@pytest.fixture
def admin_client(client, cast):
    client.force_login(cast.admin)
    return client


def mailbox_form(**changes):
    data = {
        "name": "support",
        "address": "support@helpdesk.example",
        "is_active": "on",
        "host": "imap.example.bg",
        "port": "993",
        "security": "ssl",
        "ca_file": "",
        "username": "support",
        "password": "",
        "password_file": "",
        "inbox_folder": "INBOX",
        "processed_folder": "Processed",
        "failed_folder": "Failed",
        "use_idle": "on",
        "poll_seconds": "60",
    }
    data.update(changes)
    return data


def test_mailbox_password_is_never_shown_and_kept_when_left_empty(admin_client):
    response = admin_client.post(
        "/admin/mailbridge/mailbox/add/", mailbox_form(password="Sup3r-Secret")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    box = Mailbox.objects.get()
    assert box.get_password() == "Sup3r-Secret"
    page = admin_client.get(f"/admin/mailbridge/mailbox/{box.pk}/change/").content.decode()
    assert "Sup3r-Secret" not in page
    response = admin_client.post(
        f"/admin/mailbridge/mailbox/{box.pk}/change/", mailbox_form(host="imap2.example.bg")
    )
    assert response.status_code == 302
    box.refresh_from_db()
    assert (box.host, box.password) == ("imap2.example.bg", "Sup3r-Secret")


def test_mailbox_needs_a_password_or_a_file(admin_client, tmp_path):
    response = admin_client.post("/admin/mailbridge/mailbox/add/", mailbox_form())
    assert response.status_code == 200 and not Mailbox.objects.exists()
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    response = admin_client.post(
        "/admin/mailbridge/mailbox/add/", mailbox_form(password_file=str(secret))
    )
    assert response.status_code == 302
    assert Mailbox.objects.get().get_password() == "from-file"


def test_quarantine_list_and_rerun_action(admin_client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("temporary fault")

    monkeypatch.setattr(ingest, "_create", broken)
    bad = ingest.process_message(make_mail(subject="карантина"))
    monkeypatch.undo()
    good = ingest.process_message(make_mail(subject="наред"))
    page = admin_client.get("/admin/mailbridge/quarantinedmessage/").content.decode()
    assert "temporary fault" in page and "карантина" in page
    assert "наред" not in page
    raw = admin_client.get(f"/admin/mailbridge/inboundmessage/{bad.inbound_id}/raw/")
    assert raw["Content-Type"] == "message/rfc822" and b"Subject:" in raw.content
    detail = admin_client.get(f"/admin/mailbridge/inboundmessage/{bad.inbound_id}/change/")
    assert detail.status_code == 200
    response = admin_client.post(
        "/admin/mailbridge/quarantinedmessage/",
        {"action": "rerun", "_selected_action": [bad.inbound_id]},
    )
    assert response.status_code == 302
    row = InboundMessage.objects.get(pk=bad.inbound_id)
    assert (row.state, row.outcome) == ("processed", "created")
    assert Ticket.objects.count() == 2
    assert good.outcome == "created"
