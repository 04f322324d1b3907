"""Personal data: export a person, anonymise a person, purge raw received mail."""

import datetime
import io
import json
import zipfile

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountEvent, Delegation
from accounts.services import grant_delegation
from helpdesk.errors import DomainError
from mailbridge.ingest import process_message
from mailbridge.models import InboundMessage
from mailbridge.tasks import purge_raw_mail
from tests.mailbridge.test_ingest import make_mail
from tests.portal.helpers import png_bytes, upload
from tickets import actions, personal_data
from tickets.models import Message, OutboundMail, Ticket, Watcher

pytestmark = pytest.mark.django_db

USERS = reverse("admin:accounts_user_changelist")


def _action(client, action, users, **extra):
    return client.post(
        USERS,
        {"action": action, helpers.ACTION_CHECKBOX_NAME: [u.pk for u in users], **extra},
    )


@pytest.fixture
def history(cast, client):
    """Teacher A filed a request with a file by the portal, the expert answered, she rated it.

    The director filed another request and lent her the institution's rights.
    """
    client.force_login(cast.teacher_a)
    client.post(
        reverse("portal:new"),
        {
            "institution": cast.school_a.pk,
            "competence": cast.diplomas.pk,
            "subject": "Дипломата не се качва",
            "description": "Сканираното изображение се отхвърля.",
            "attachments": [upload("диплома.png", png_bytes(), "image/png")],
        },
    )
    ticket = Ticket.objects.get()
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Качете PDF.", channel="console")
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Бележка", kind="internal")
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Благодаря!")
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    actions.rate(ticket=ticket, actor=cast.teacher_a, score=5, comment="Бързо")
    other = actions.create_ticket(
        actor=cast.director_a, institution=cast.school_a, subject="Друго", text="Текст"
    )
    grant_delegation(
        actor=cast.director_a,
        institution=cast.school_a,
        delegate=cast.teacher_a,
        valid_from=timezone.now(),
        valid_until=timezone.now() + datetime.timedelta(days=10),
    )
    client.logout()
    return ticket, other


def _archive(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_export_holds_everything_about_the_person(client, cast, history):
    ticket, other = history
    client.force_login(cast.admin)
    response = _action(client, "export_personal_data", [cast.teacher_a])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = _archive(response)
    folder = f"{cast.teacher_a.pk}-teacher.a@edu.mon.bg"
    data = json.loads(archive.read(f"{folder}/data.json"))

    assert data["account"]["email"] == "teacher.a@edu.mon.bg"
    assert data["account"]["full_name"] == "Учител А"
    assert "password" not in json.dumps(data["account"])
    assert data["memberships"] == [{"institution": "2206409", "name": "138 СУ", "role": "teacher"}]
    assert [d["delegate"] for d in data["delegations"]] == ["teacher.a@edu.mon.bg"]
    assert [r["reference"] for r in data["requests"]] == [ticket.reference]
    request = data["requests"][0]
    assert request["satisfaction"] == 5
    assert request["satisfaction_comment"] == "Бързо"
    texts = [(m["kind"], m["text"]) for m in request["messages"]]
    assert ("public", "Сканираното изображение се отхвърля.") in texts
    assert ("public", "Качете PDF.") in texts
    assert ("internal", "Бележка") in texts
    assert {e["kind"] for e in request["history"]} >= {"created", "status", "rated"}
    assert data["mail_sent"], "the acknowledgement and the answers"
    assert {m["request"] for m in data["mail_sent"]} == {ticket.reference}
    assert other.reference not in json.dumps(data)
    kinds = {e["kind"] for e in data["access_audit"]}
    assert "delegation_granted" in kinds

    # The uploaded file, byte for byte.
    assert [f["name"] for f in data["files"]] == ["диплома.png"]
    path = data["files"][0]["in_archive"]
    assert archive.read(f"{folder}/{path}") == png_bytes()

    # The export itself is audited.
    event = AccountEvent.objects.get(kind="personal_data_exported")
    assert event.actor == cast.admin
    assert event.subject == cast.teacher_a
    assert event.detail["requests"] == 1


def test_export_of_several_people_is_one_archive(client, cast, history):
    client.force_login(cast.admin)
    archive = _archive(_action(client, "export_personal_data", [cast.teacher_a, cast.expert_x]))
    folders = {name.split("/", 1)[0] for name in archive.namelist()}
    assert folders == {
        f"{cast.teacher_a.pk}-teacher.a@edu.mon.bg",
        f"{cast.expert_x.pk}-expert.x@ruo.bg",
    }
    expert = json.loads(archive.read(f"{cast.expert_x.pk}-expert.x@ruo.bg/data.json"))
    assert expert["agent_profile"]["tier"] == "regional"
    assert expert["requests"] == []
    written = {m["text"] for m in expert["messages_on_other_requests"]}
    assert written == {"Качете PDF.", "Бележка"}


def test_only_superusers_export_and_anonymise(client, cast, history):
    staff = cast.supervisor_all
    staff.is_staff = True
    staff.save()
    staff.user_permissions.set(Permission.objects.filter(codename__endswith="_user"))
    client.force_login(staff)
    for action in ("export_personal_data", "anonymise"):
        response = _action(client, action, [cast.teacher_a], apply="1")
        assert response.status_code in (200, 302)
        assert response.get("Content-Type") != "application/zip"
    cast.teacher_a.refresh_from_db()
    assert cast.teacher_a.email == "teacher.a@edu.mon.bg"
    assert not AccountEvent.objects.filter(kind__in=["personal_data_exported", "anonymised"])


def test_anonymise_asks_first_then_replaces_name_and_address(
    client, cast, history, django_capture_on_commit_callbacks
):
    ticket, _other = history
    for address in ("teacher.a@edu.mon.bg", "x@y.bg"):
        Watcher.objects.create(ticket=_other, email=address, source="mail")
    raw = make_mail(sender="Учител А <teacher.a@edu.mon.bg>", subject="По имейл")
    process_message(raw)
    teacher = Client()
    teacher.force_login(cast.teacher_a)
    assert teacher.get(reverse("portal:list")).status_code == 200

    client.force_login(cast.admin)
    confirm = _action(client, "anonymise", [cast.teacher_a])
    assert confirm.status_code == 200
    assert "teacher.a@edu.mon.bg" in confirm.content.decode()
    cast.teacher_a.refresh_from_db()
    assert cast.teacher_a.is_active, "nothing happens before the confirmation"

    with django_capture_on_commit_callbacks(execute=True):
        response = _action(client, "anonymise", [cast.teacher_a], apply="1")
    assert response.status_code == 302
    user = cast.teacher_a
    user.refresh_from_db()
    name, email = personal_data.placeholders(user)
    assert (user.email, user.full_name) == (email, name)
    assert email.endswith(".invalid")
    assert not user.is_active
    assert not user.has_usable_password()

    # Requests, texts and history stay; the copies of the name and address do not.
    ticket.refresh_from_db()
    assert ticket.requester == user
    assert (ticket.requester_email, ticket.requester_name) == (email, name)
    assert ticket.messages.count() == 4
    assert not Message.objects.filter(sender_email="teacher.a@edu.mon.bg").exists()
    assert not Message.objects.filter(sender_name="Учител А").exists()
    assert sorted(w.address for w in _other.watchers.all()) == [email, "x@y.bg"]
    assert not Watcher.objects.filter(email="teacher.a@edu.mon.bg").exists()
    for mail in OutboundMail.objects.all():
        assert "teacher.a@edu.mon.bg" not in mail.recipients
    assert not Ticket.objects.filter(requester_email="teacher.a@edu.mon.bg").exists()
    # Received mail forgets the address and the raw bytes.
    inbound = InboundMessage.objects.get()
    assert inbound.sender == email
    assert bytes(inbound.raw) == b""

    # Sessions and delegations end.
    assert teacher.get(reverse("portal:list")).status_code == 302
    assert not [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    assert Delegation.objects.get(delegate=user).revoked_at is not None

    # Audited, without the old address.
    event = AccountEvent.objects.get(kind="anonymised")
    assert event.actor == cast.admin
    assert event.subject == user
    assert "teacher.a@edu.mon.bg" not in json.dumps(event.detail)
    assert AccountEvent.objects.filter(kind="deactivated", subject=user).exists()


def test_anonymise_refuses_yourself_and_twice(cast):
    with pytest.raises(DomainError):
        personal_data.anonymise(cast.admin, actor=cast.admin)
    personal_data.anonymise(cast.teacher_b, actor=cast.admin)
    with pytest.raises(DomainError):
        personal_data.anonymise(cast.teacher_b, actor=cast.admin)
    assert AccountEvent.objects.filter(kind="anonymised").count() == 1


def test_raw_mail_older_than_the_limit_is_purged_by_the_beat_task(cast, settings):
    settings.HELPDESK_RAW_MAIL_DAYS = 30
    process_message(make_mail(subject="Стар", body="Текст на старото писмо"))
    process_message(make_mail(subject="Нов", body="Текст на новото писмо"))
    process_message(
        make_mail(
            sender="MAILER-DAEMON@example.org",
            subject="Auto",
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    held = InboundMessage.objects.create(
        message_key="held-1", raw=b"held bytes", raw_size=10, state="quarantined", outcome="held"
    )
    quarantined = InboundMessage.objects.create(
        message_key="q-1", raw=b"bad bytes", raw_size=9, state="quarantined"
    )
    old = timezone.now() - datetime.timedelta(days=31)
    InboundMessage.objects.exclude(subject="Нов").update(created_at=old)
    before = {row.pk: row.state for row in InboundMessage.objects.all()}
    assert "ignored" in before.values() or "processed" in before.values()

    # Through celery (eager in tests), as the beat schedule runs it.
    assert "mailbridge.tasks.purge_raw_mail" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    result = purge_raw_mail.delay()
    assert result.get() == 2

    rows = {row.subject or row.message_key: row for row in InboundMessage.objects.all()}
    assert bytes(rows["Стар"].raw) == b""
    assert rows["Стар"].raw_size > 0 and rows["Стар"].raw_digest
    assert bytes(rows["Auto"].raw) == b""
    assert bytes(rows["Нов"].raw) != b"", "younger than the limit"
    assert bytes(InboundMessage.objects.get(pk=held.pk).raw) == b"held bytes"
    assert bytes(InboundMessage.objects.get(pk=quarantined.pk).raw) == b"bad bytes"
    # The parsed request stays.
    assert Ticket.objects.get(subject="Стар").messages.get().body_text == "Текст на старото писмо"
    # A second run has nothing left to do.
    assert purge_raw_mail.delay().get() == 0
