"""Tests for mailbridge.noise.classify (pure)."""

from __future__ import annotations

import pytest

from mailbridge.noise import AUTO_REPLY, BOUNCE, NORMAL, OWN_LOOP, Noise, classify
from mailbridge.parsing import ParsedAttachment, ParsedMail, parse_message

OWN = {"helpdesk@edu.mon.bg", "Support@Edu.Mon.bg"}


def parsed(headers: dict[str, str] | None = None, **fields) -> ParsedMail:
    fields.setdefault("from_addr", "teacher@school.bg")
    return ParsedMail(headers={k.lower(): v for k, v in (headers or {}).items()}, **fields)


@pytest.mark.parametrize(
    ("mail", "kind", "reason_part"),
    [
        (parsed(), NORMAL, ""),
        (parsed({"Auto-Submitted": "no"}), NORMAL, ""),
        (parsed({"Precedence": "first-class"}), NORMAL, ""),
        (parsed({"X-Autoreply": "no"}), NORMAL, ""),
        (parsed({"Return-Path": "<teacher@school.bg>"}), NORMAL, ""),
        # own loop: our header, or our own address as the sender
        (parsed({"X-NEISPUO-Helpdesk-Loop": "1"}), OWN_LOOP, "X-NEISPUO-Helpdesk-Loop"),
        (parsed(from_addr="helpdesk@edu.mon.bg"), OWN_LOOP, "helpdesk@edu.mon.bg"),
        (parsed(from_addr="support@edu.mon.bg"), OWN_LOOP, "support@edu.mon.bg"),
        # automatic replies and list mail
        (parsed({"Auto-Submitted": "auto-replied"}), AUTO_REPLY, "Auto-Submitted: auto-replied"),
        (parsed({"Auto-Submitted": "auto-generated; type=x"}), AUTO_REPLY, "auto-generated"),
        (parsed({"X-Autoreply": "yes"}), AUTO_REPLY, "x-autoreply"),
        (parsed({"X-Autorespond": "Out of office"}), AUTO_REPLY, "x-autorespond"),
        (parsed({"Precedence": "bulk"}), AUTO_REPLY, "Precedence: bulk"),
        (parsed({"Precedence": "Junk"}), AUTO_REPLY, "Precedence: junk"),
        (parsed({"Precedence": "list"}), AUTO_REPLY, "Precedence: list"),
        (parsed({"X-Auto-Response-Suppress": "All"}), AUTO_REPLY, "X-Auto-Response-Suppress"),
        (parsed({"List-Id": "<teachers.school.bg>"}), AUTO_REPLY, "List-Id"),
        (parsed({"Return-Path": "<>"}), AUTO_REPLY, "empty Return-Path"),
        (parsed({"Return-Path": "< >"}), AUTO_REPLY, "empty Return-Path"),
        # bounces
        (
            parsed(
                from_addr="mailer-daemon@mx.bg",
                is_multipart_report=True,
                report_type="delivery-status",
                bounce_recipients=["gone@school.bg"],
                dsn_actions=["failed"],
            ),
            BOUNCE,
            "gone@school.bg",
        ),
        (
            parsed(
                {"Auto-Submitted": "auto-replied", "Return-Path": "<>"},
                from_addr="postmaster@mx.bg",
                is_multipart_report=True,
                report_type="delivery-status",
            ),
            BOUNCE,
            "delivery status report",
        ),
        (parsed({"X-Failed-Recipients": "gone@school.bg"}), BOUNCE, "gone@school.bg"),
        (
            parsed(from_addr="mailer-daemon@mx.bg", subject="Undelivered Mail Returned to Sender"),
            BOUNCE,
            "mailer-daemon@mx.bg",
        ),
        (
            parsed(
                from_addr="postmaster@mx.bg",
                subject="Returned",
                attachments=[ParsedAttachment("x.eml", "message/rfc822", b"")],
            ),
            BOUNCE,
            "postmaster@mx.bg",
        ),
        (
            parsed(from_addr="", from_name="Mail Delivery System", subject="Mail delivery failed"),
            BOUNCE,
            "Mail Delivery System",
        ),
        # a delay notice or a read receipt is machine mail, not a failure
        (
            parsed(
                from_addr="mailer-daemon@mx.bg",
                is_multipart_report=True,
                report_type="delivery-status",
                dsn_actions=["delayed"],
            ),
            AUTO_REPLY,
            "without failed recipients",
        ),
        (
            parsed(is_multipart_report=True, report_type="disposition-notification"),
            AUTO_REPLY,
            "disposition-notification",
        ),
        # the postmaster writing as a person is not a bounce
        (parsed(from_addr="postmaster@school.bg", subject="Нов директор"), NORMAL, ""),
    ],
)
def test_classify(mail, kind, reason_part):
    noise = classify(mail, OWN)

    assert noise.kind == kind
    assert reason_part in noise.reason
    assert noise.is_noise is (kind != NORMAL)


def test_the_loop_header_name_can_be_configured():
    mail = parsed({"X-Other-Loop": "yes"})

    assert classify(mail, OWN, loop_header="X-Other-Loop").kind == OWN_LOOP
    assert classify(mail, OWN).kind == NORMAL


def test_own_loop_wins_over_auto_reply():
    mail = parsed({"X-NEISPUO-Helpdesk-Loop": "1", "Auto-Submitted": "auto-replied"})

    assert classify(mail, OWN) == Noise(OWN_LOOP, "X-NEISPUO-Helpdesk-Loop header present")


def test_a_parsed_dsn_is_a_bounce_with_the_original_message_id():
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.edu.mon.bg>\n"
        b"Subject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain\n\nCould not deliver.\n"
        b"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
        b"Final-Recipient: rfc822; gone@school.bg\nAction: failed\nStatus: 5.1.1\n"
        b"--B\nContent-Type: message/rfc822\n\nFrom: helpdesk@edu.mon.bg\n"
        b"Message-ID: <hd-42@edu.mon.bg>\nSubject: [HD#26-000042]\n\nOur reply\n--B--\n"
    )
    mail = parse_message(raw)

    noise = classify(mail, OWN)

    assert noise.kind == BOUNCE
    assert mail.bounce_original_message_id == "hd-42@edu.mon.bg"
    assert mail.bounce_recipients == ["gone@school.bg"]


def test_an_outlook_out_of_office_is_an_auto_reply():
    raw = (
        "From: Мария <maria@school.bg>\nSubject: Автоматичен отговор: Проблем\n"
        "Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\n\nОтсъствам до 5 януари."
    ).encode()

    assert classify(parse_message(raw), OWN).kind == AUTO_REPLY


def test_a_person_replying_is_normal():
    raw = "From: Мария <maria@school.bg>\nSubject: Re: [HD#26-000123]\n\nБлагодаря!".encode()

    assert classify(parse_message(raw), OWN) == Noise(NORMAL, "")
