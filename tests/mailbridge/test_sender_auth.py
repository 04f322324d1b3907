"""A From address is a claim: only what the receiving server proved makes a mail someone's words."""

import pytest
from django.core import mail as django_mail

from mailbridge import authentication
from mailbridge.ingest import process_message
from mailbridge.models import InboundMessage
from tests.mailbridge.test_ingest import make_mail
from tickets import actions
from tickets.models import Message, OutboundMail

TRUSTED = ["mx.mon.bg"]


@pytest.fixture(autouse=True)
def _english():
    # Reasons are checked by their English wording, whatever translations exist.
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("headers", "sender", "proven", "method"),
    [
        (["mx.mon.bg; dmarc=pass header.from=school.bg"], "a@school.bg", True, "dmarc"),
        (["mx.mon.bg; dmarc=fail header.from=school.bg"], "a@school.bg", False, ""),
        (["mx.mon.bg; dkim=pass header.d=school.bg"], "a@school.bg", True, "dkim"),
        (["mx.mon.bg; dkim=pass header.d=mail.school.bg"], "a@school.bg", True, "dkim"),
        (["mx.mon.bg; dkim=pass header.i=@school.bg"], "a@school.bg", True, "dkim"),
        (["mx.mon.bg; dkim=pass header.d=evil.example"], "a@school.bg", False, ""),
        (["mx.mon.bg; dkim=pass header.d=notschool.bg"], "a@school.bg", False, ""),
        (["mx.mon.bg; spf=pass smtp.mailfrom=bounce@school.bg"], "a@school.bg", True, "spf"),
        (["mx.mon.bg; spf=pass smtp.mailfrom=x@evil.example"], "a@school.bg", False, ""),
        (["mx.mon.bg; spf=softfail smtp.mailfrom=a@school.bg"], "a@school.bg", False, ""),
        # Comments and case do not matter.
        (["MX.MON.BG (postfix); DKIM=Pass (good) header.d=School.BG"], "a@school.bg", True, "dkim"),
        # A header under another name proves nothing, however good it looks.
        (["evil.example; dmarc=pass header.from=school.bg"], "a@school.bg", False, ""),
        # Only the topmost trusted header counts: the one below came with the mail.
        (
            [
                "mx.mon.bg; dmarc=fail header.from=school.bg",
                "mx.mon.bg; dmarc=pass header.from=school.bg",
            ],
            "a@school.bg",
            False,
            "",
        ),
        ([], "a@school.bg", False, ""),
        (["mx.mon.bg; dmarc=pass header.from=school.bg"], "no-domain", False, ""),
    ],
)
def test_judge(headers, sender, proven, method):
    verdict = authentication.judge(headers, sender, TRUSTED)
    assert (verdict.proven, verdict.method) == (proven, method)
    assert verdict.reason


def test_nothing_is_proven_without_a_trusted_server():
    verdict = authentication.judge(["mx.mon.bg; dmarc=pass"], "a@school.bg", [])
    assert not verdict.proven
    assert verdict.reason == "no trusted authserv-id is configured"


def test_the_headers_are_read_from_the_raw_message_topmost_first():
    raw = make_mail(
        headers={"Authentication-Results": "mx.mon.bg; dmarc=pass header.from=example.org"}
    )
    raw = b"Authentication-Results: mx.mon.bg; dkim=fail\r\n" + raw
    assert authentication.authentication_results(raw) == [
        "mx.mon.bg; dkim=fail",
        "mx.mon.bg; dmarc=pass header.from=example.org",
    ]


def test_a_huge_header_is_cut_before_it_is_parsed():
    value = "mx.mon.bg; " + "dkim=pass header.d=a.bg; " * 5000
    [read] = authentication.authentication_results(
        make_mail(headers={"Authentication-Results": value})
    )
    assert len(read) <= authentication.MAX_HEADER_CHARS


# --- ingestion -----------------------------------------------------------------------


@pytest.fixture
def required(settings):
    settings.HELPDESK = {
        **settings.HELPDESK,
        "MAIL_SENDER_AUTH": "required",
        "MAIL_AUTHSERV_IDS": TRUSTED,
    }
    return settings


def proof_for(address: str) -> dict:
    domain = address.rpartition("@")[2]
    return {"Authentication-Results": f"mx.mon.bg; dmarc=pass header.from={domain}"}


def reply_as(person, ticket, body, headers=None):
    return make_mail(
        sender=f"{person.full_name} <{person.email}>",
        subject=f"Re: [HD#{ticket.reference}] {ticket.subject}",
        body=body,
        headers=headers,
    )


def test_a_forged_staff_reply_is_held_and_nothing_reaches_the_requester(
    cast, make_ticket, required, django_capture_on_commit_callbacks
):
    ticket = make_ticket(actor=cast.teacher_a)
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_message(
            reply_as(cast.expert_x, ticket, "Платете тук: https://evil.example/pay")
        )
    assert outcome.outcome == "held"
    assert not Message.objects.filter(ticket=ticket, from_staff=True).exists()
    assert not Message.objects.filter(body_text__contains="evil.example").exists()
    row = InboundMessage.objects.get(pk=outcome.inbound_id)
    assert (row.state, row.outcome) == ("quarantined", "held")
    assert "no trusted" not in row.sender_proof and row.sender_proof
    # The requester gets nothing; the agent whose address was used is told.
    assert [m.to for m in django_mail.outbox] == [[cast.expert_x.email]]
    assert OutboundMail.objects.get(kind="mail_held").recipients == [cast.expert_x.email]
    assert ticket.events.filter(kind="mail", note__contains="Held for review").exists()


def test_a_proven_staff_reply_is_posted_and_mailed(
    cast, make_ticket, required, django_capture_on_commit_callbacks
):
    ticket = make_ticket(actor=cast.teacher_a)
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_message(
            reply_as(cast.expert_x, ticket, "Опитайте пак.", proof_for(cast.expert_x.email))
        )
    assert outcome.outcome == "followup"
    message = Message.objects.get(ticket=ticket, from_staff=True)
    assert message.author == cast.expert_x
    assert InboundMessage.objects.get(pk=outcome.inbound_id).sender_proof.startswith("dmarc=pass")
    assert cast.teacher_a.email in [a for m in django_mail.outbox for a in m.to]


def test_an_administrator_can_release_a_held_mail(cast, make_ticket, required):
    from mailbridge.ingest import reprocess

    ticket = make_ticket(actor=cast.teacher_a)
    held = process_message(reply_as(cast.expert_x, ticket, "Истински отговор."))
    assert held.outcome == "held"
    again = reprocess(held.inbound_id, released_by=cast.admin)
    assert again.outcome == "followup"
    assert Message.objects.get(ticket=ticket, from_staff=True).author == cast.expert_x
    assert InboundMessage.objects.get(pk=held.inbound_id).released_by == cast.admin


def test_an_unproven_requester_reply_is_kept_by_address_only(cast, make_ticket, required):
    ticket = make_ticket(actor=cast.teacher_a)
    outcome = process_message(reply_as(cast.teacher_a, ticket, "Още информация."))
    assert outcome.outcome == "followup"
    message = Message.objects.get(ticket=ticket, body_text="Още информация.")
    assert message.author is None
    assert message.sender_email == cast.teacher_a.email


def test_an_unproven_requester_reply_can_be_held_by_setting(cast, make_ticket, required):
    required.HELPDESK = {**required.HELPDESK, "MAIL_UNPROVEN_REQUESTER": "hold"}
    ticket = make_ticket(actor=cast.teacher_a)
    assert process_message(reply_as(cast.teacher_a, ticket, "Още.")).outcome == "held"
    assert not Message.objects.filter(body_text="Още.").exists()


def test_a_proven_agent_cannot_write_to_a_closed_request_by_mail(cast, make_ticket, required):
    ticket = make_ticket(actor=cast.teacher_a)
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="closed")
    outcome = process_message(
        reply_as(cast.expert_x, ticket, "Късен отговор.", proof_for(cast.expert_x.email))
    )
    assert outcome.outcome == "ignored"
    assert not Message.objects.filter(body_text="Късен отговор.").exists()


# --- acknowledgements: never a way to mail strangers ---------------------------------


def test_forged_senders_get_acknowledgements_only_up_to_the_domain_limit(
    cast, settings, django_capture_on_commit_callbacks
):
    settings.HELPDESK = {**settings.HELPDESK, "ACK_PER_DOMAIN_HOUR": 3, "ACK_PER_HOUR": 1000}
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcomes = [
            process_message(make_mail(sender=f"victim{i}@target.example", subject=f"Тема {i}"))
            for i in range(10)
        ]
    assert [o.outcome for o in outcomes] == ["created"] * 10  # nothing is lost
    assert len(django_mail.outbox) == 3
    assert Message.objects.count() == 10


def test_the_global_limit_holds_across_domains(cast, settings, django_capture_on_commit_callbacks):
    settings.HELPDESK = {**settings.HELPDESK, "ACK_PER_DOMAIN_HOUR": 100, "ACK_PER_HOUR": 4}
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(8):
            process_message(make_mail(sender=f"a@domain{i}.example", subject=f"Тема {i}"))
    assert len(django_mail.outbox) == 4


def test_no_acknowledgement_to_an_unproven_sender_of_bulk_mail(
    cast, required, django_capture_on_commit_callbacks
):
    django_mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = process_message(
            make_mail(
                sender="someone@shop.example",
                cc=[f"person{i}@elsewhere.example" for i in range(25)],
            )
        )
    assert outcome.outcome == "created"
    assert django_mail.outbox == []
    from tickets.models import Ticket

    ticket = Ticket.objects.get(reference=outcome.ticket)
    assert ticket.events.filter(note__startswith="No acknowledgement").exists()
