"""Tests for mailbridge.noise.classify (pure)."""

from __future__ import annotations

import pytest

from mailbridge.noise import AUTO_REPLY, BOUNCE, NORMAL, OWN_LOOP, Noise, classify
from mailbridge.parsing import ParsedAttachment, ParsedMail, parse_message

OWN = {"helpdesk@edu.mon.bg", "Support@Edu.Mon.bg"}


def parsed(headers: dict[str, str] | None = None, **fields) -> ParsedMail:
    fields.setdefault("from_addr", "teacher@school.bg")
    return ParsedMail(headers={k.lower(): v for k, v in (headers or {}).items()}, **fields)


LONG = "x" * 250
DAEMON = "mailer-daemon@mx.bg"


def bounce_subject(subject):
    return parsed(from_addr=DAEMON, subject=subject)


# (id, mail, kind, the reason in full)
CLASSIFY_CASES = [
    ("plain mail", parsed(), NORMAL, ""),
    ("auto-submitted no", parsed({"Auto-Submitted": "no"}), NORMAL, ""),
    ("other precedence", parsed({"Precedence": "first-class"}), NORMAL, ""),
    ("x-autoreply no", parsed({"X-Autoreply": "no"}), NORMAL, ""),
    ("x-autoreply false", parsed({"X-Autoreply": " False "}), NORMAL, ""),
    ("x-autoreply 0", parsed({"X-Autoreply": "0"}), NORMAL, ""),
    ("x-autorespond no", parsed({"X-Autorespond": "NO"}), NORMAL, ""),
    ("return path", parsed({"Return-Path": "<teacher@school.bg>"}), NORMAL, ""),
    # own loop: our header, or our own address as the sender
    (
        "loop header",
        parsed({"X-NEISPUO-Helpdesk-Loop": "1"}),
        OWN_LOOP,
        "X-NEISPUO-Helpdesk-Loop header present",
    ),
    (
        "own address",
        parsed(from_addr="helpdesk@edu.mon.bg"),
        OWN_LOOP,
        "sent from our own address helpdesk@edu.mon.bg",
    ),
    (
        "own address given in capitals",
        parsed(from_addr="support@edu.mon.bg"),
        OWN_LOOP,
        "sent from our own address support@edu.mon.bg",
    ),
    # automatic replies and list mail
    (
        "auto-submitted",
        parsed({"Auto-Submitted": "Auto-Replied"}),
        AUTO_REPLY,
        "Auto-Submitted: auto-replied",
    ),
    (
        "auto-submitted with parameters",
        parsed({"Auto-Submitted": "auto-generated; type=x; y=z"}),
        AUTO_REPLY,
        "Auto-Submitted: auto-generated",
    ),
    ("x-autoreply", parsed({"X-Autoreply": "yes"}), AUTO_REPLY, "x-autoreply: yes"),
    (
        "x-autorespond",
        parsed({"X-Autorespond": "Out of office"}),
        AUTO_REPLY,
        "x-autorespond: Out of office",
    ),
    ("long x-autoreply", parsed({"X-Autoreply": LONG}), AUTO_REPLY, "x-autoreply: " + "x" * 100),
    ("precedence bulk", parsed({"Precedence": "bulk"}), AUTO_REPLY, "Precedence: bulk"),
    ("precedence junk", parsed({"Precedence": " Junk"}), AUTO_REPLY, "Precedence: junk"),
    ("precedence list", parsed({"Precedence": "list"}), AUTO_REPLY, "Precedence: list"),
    (
        "precedence auto_reply",
        parsed({"Precedence": "auto_reply"}),
        AUTO_REPLY,
        "Precedence: auto_reply",
    ),
    (
        "auto-response-suppress",
        parsed({"X-Auto-Response-Suppress": "All"}),
        AUTO_REPLY,
        "X-Auto-Response-Suppress: All",
    ),
    (
        "long auto-response-suppress",
        parsed({"X-Auto-Response-Suppress": LONG}),
        AUTO_REPLY,
        "X-Auto-Response-Suppress: " + "x" * 100,
    ),
    (
        "list-id",
        parsed({"List-Id": "<teachers.school.bg>"}),
        AUTO_REPLY,
        "List-Id: <teachers.school.bg>",
    ),
    ("long list-id", parsed({"List-Id": LONG}), AUTO_REPLY, "List-Id: " + "x" * 200),
    ("empty return path", parsed({"Return-Path": "<>"}), AUTO_REPLY, "empty Return-Path"),
    ("return path with a space", parsed({"Return-Path": "< >"}), AUTO_REPLY, "empty Return-Path"),
    ("blank return path", parsed({"Return-Path": ""}), AUTO_REPLY, "empty Return-Path"),
    # bounces
    (
        "delivery status report",
        parsed(
            from_addr=DAEMON,
            is_multipart_report=True,
            report_type="delivery-status",
            bounce_recipients=["gone@school.bg"],
            dsn_actions=["failed"],
        ),
        BOUNCE,
        "delivery status report: gone@school.bg",
    ),
    (
        "report with failed actions but another type",
        parsed(is_multipart_report=True, dsn_actions=["failed"], bounce_recipients=["a@b.bg"]),
        BOUNCE,
        "delivery status report: a@b.bg",
    ),
    (
        "report naming five recipients at most",
        parsed(
            is_multipart_report=True,
            report_type="delivery-status",
            bounce_recipients=[f"r{i}@school.bg" for i in range(1, 7)],
            dsn_actions=["failed"] * 6,
        ),
        BOUNCE,
        "delivery status report: r1@school.bg, r2@school.bg, r3@school.bg, r4@school.bg, "
        "r5@school.bg",
    ),
    (
        "report without recipients",
        parsed(
            {"Auto-Submitted": "auto-replied", "Return-Path": "<>"},
            from_addr="postmaster@mx.bg",
            is_multipart_report=True,
            report_type="delivery-status",
        ),
        BOUNCE,
        "delivery status report",
    ),
    (
        "x-failed-recipients",
        parsed({"X-Failed-Recipients": "gone@school.bg"}),
        BOUNCE,
        "X-Failed-Recipients: gone@school.bg",
    ),
    (
        "long x-failed-recipients",
        parsed({"X-Failed-Recipients": LONG}),
        BOUNCE,
        "X-Failed-Recipients: " + "x" * 200,
    ),
    (
        "daemon with attached message",
        parsed(
            from_addr="postmaster@mx.bg",
            subject="Notice",
            attachments=[ParsedAttachment("x.eml", "message/rfc822", b"")],
        ),
        BOUNCE,
        "bounce from postmaster@mx.bg",
    ),
    (
        "daemon with attached headers",
        parsed(
            from_addr="postmaster@mx.bg",
            subject="Notice",
            attachments=[ParsedAttachment("x.txt", "text/rfc822-headers", b"")],
        ),
        BOUNCE,
        "bounce from postmaster@mx.bg",
    ),
    (
        "daemon with attached status",
        parsed(
            from_addr="postmaster@mx.bg",
            subject="Notice",
            attachments=[ParsedAttachment("x.txt", "message/delivery-status", b"")],
        ),
        BOUNCE,
        "bounce from postmaster@mx.bg",
    ),
    (
        "daemon with another attachment",
        parsed(
            from_addr="postmaster@mx.bg",
            subject="Notice",
            attachments=[ParsedAttachment("x.pdf", "application/pdf", b"")],
        ),
        NORMAL,
        "",
    ),
    (
        "delivery system by name",
        parsed(from_addr="", from_name="Mail Delivery System", subject="Mail delivery failed"),
        BOUNCE,
        "bounce from Mail Delivery System",
    ),
    (
        "delivery subsystem by name",
        parsed(
            from_addr="",
            from_name="Mail Delivery Subsystem",
            subject="Delivery Status Notification (Failure)",
        ),
        BOUNCE,
        "bounce from Mail Delivery Subsystem",
    ),
    # a delay notice or a read receipt is machine mail, not a failure
    (
        "delay notice",
        parsed(
            from_addr=DAEMON,
            is_multipart_report=True,
            report_type="delivery-status",
            dsn_actions=["delayed"],
        ),
        AUTO_REPLY,
        "delivery-status report without failed recipients",
    ),
    (
        "read receipt",
        parsed(is_multipart_report=True, report_type="disposition-notification"),
        AUTO_REPLY,
        "disposition-notification report without failed recipients",
    ),
    (
        "report of no type",
        parsed(is_multipart_report=True),
        AUTO_REPLY,
        "unknown report without failed recipients",
    ),
    # the postmaster writing as a person is not a bounce
    (
        "postmaster as a person",
        parsed(from_addr="postmaster@school.bg", subject="Нов директор"),
        NORMAL,
        "",
    ),
]


@pytest.mark.parametrize(
    ("mail", "kind", "reason"),
    [case[1:] for case in CLASSIFY_CASES],
    ids=[case[0] for case in CLASSIFY_CASES],
)
def test_classify(mail, kind, reason):
    noise = classify(mail, OWN)

    assert (noise.kind, noise.reason) == (kind, reason)
    assert noise.is_noise is (kind != NORMAL)


# Subjects of bounces without a delivery report, one for each wording we know.
BOUNCE_SUBJECTS = [
    "Undeliverable: Проблем с вход",
    "Undelivered Mail Returned to Sender",
    "Delivery Status Notification (Failure)",
    "Delivery Status Notification (Failed)",
    "Delivery has failed to these recipients or groups",
    "Mail delivery failed: returning message to sender",
    "failure notice",
    "Returned mail: see transcript for details",
    "Nondeliverable mail",
    "Non-delivery report",
    "Unzustellbar: Anfrage",
    "Nachricht nicht zustellbar",
    "Недоставено съобщение",
    "Съобщението не е доставено",
    "Неуспешна доставка",
]


@pytest.mark.parametrize("subject", BOUNCE_SUBJECTS)
def test_each_bounce_subject_from_a_mail_daemon_is_a_bounce(subject):
    assert classify(bounce_subject(subject), OWN) == Noise(BOUNCE, f"bounce from {DAEMON}")


@pytest.mark.parametrize("subject", ["Re: Проблем с вход", "Delivery of the diplomas", "Status"])
def test_other_subjects_from_a_mail_daemon_are_not(subject):
    assert classify(bounce_subject(subject), OWN) == Noise(NORMAL, "")


@pytest.mark.parametrize("subject", BOUNCE_SUBJECTS[:3])
def test_a_bounce_subject_from_a_person_is_not_a_bounce(subject):
    assert classify(parsed(subject=subject), OWN) == Noise(NORMAL, "")


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
