"""History in the reader's language, whatever language the row was written in."""

import pytest
from django.utils import translation

from tickets import events, history
from tickets.models import Status, TicketEvent, Tier

pytestmark = pytest.mark.django_db

ROUTED = (
    "institution 2206409 from code in text; region 22 from institution 2206409; "
    "competence diplomas from keywords 'диплом'; tier regional from competence diplomas; "
    "assigned to agent10: load 3/10, least loaded of 2 experts of region 22 with diplomas"
)


def line_of(event, language):
    with translation.override(language):
        [(_event, line)] = history.describe([event])
    return line


def test_routing_reasons_read_in_bulgarian(cast, make_ticket):
    ticket = make_ticket()
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind="routed",
        field="queue",
        new_value="assigned",
        note=ROUTED,
        channel="system",
    )
    line = line_of(event, "bg")
    assert line.note == (
        "институция 2206409 по код в текста; регион 22 по институция 2206409; "
        "компетентност diplomas по ключовите думи 'диплом'; ниво регионално по компетентност "
        "diplomas; възложена на agent10: натовареност 3/10, най-малко натоварен от 2 експерти "
        "от регион 22 с diplomas"
    ).replace("регионално", str(line_tier("regional")))
    assert line.new == "възложена на експерт"
    english = line_of(event, "en").note
    assert english.startswith("institution 2206409 from code in text; region 22")
    assert english.endswith("least loaded of 2 experts of region 22 with diplomas")


def line_tier(value):
    with translation.override("bg"):
        return Tier(value).label


def test_status_codes_read_as_labels_in_each_language(cast, make_ticket):
    ticket = make_ticket()
    event = events.status_changed(
        ticket,
        actor=cast.expert_x,
        channel="console",
        old="new",
        new="waiting",
        at=ticket.created_at,
    )
    for language in ("bg", "en"):
        with translation.override(language):
            expected = (str(Status.NEW.label), str(Status.WAITING.label))
        line = line_of(event, language)
        assert (line.old, line.new) == expected
    assert line_of(event, "bg").new != line_of(event, "en").new


def test_a_note_written_in_bulgarian_reads_in_english_and_back(cast, make_ticket):
    with translation.override("bg"):
        ticket = make_ticket()
    created = TicketEvent.objects.get(ticket=ticket, kind="created")
    assert "портал" in created.note.lower()
    assert line_of(created, "en").note == "Filed through portal"
    assert line_of(created, "bg").note == created.note


def test_a_note_with_a_translated_argument_and_a_semicolon(cast, make_ticket):
    ticket = make_ticket()
    with translation.override("en"):
        event = events.sla_breached(ticket, which="first_response", at=ticket.created_at)
        bounced = events.mail_note(
            ticket, note="Mail to a@b.bg could not be delivered; no more notifications go there."
        )
    assert event.note == "The first response target was missed."
    bg = line_of(event, "bg")
    assert "първ" in bg.note.lower() and "first" not in bg.note
    assert bg.new == "просрочен"
    assert "a@b.bg" in line_of(bounced, "bg").note
    assert "could not" not in line_of(bounced, "bg").note


def test_what_a_person_typed_is_shown_as_typed(cast, make_ticket):
    ticket = make_ticket()
    for text in ["region unknown, I think; please check", "Filed through the window", "%(x)s"]:
        event = events.mail_note(ticket, note=text)
        assert line_of(event, "bg").note == text


def test_the_console_ticket_page_shows_no_english_routing_in_bulgarian(client, cast, make_ticket):
    ticket = make_ticket()
    client.force_login(cast.expert_x)
    html = client.get(f"/console/tickets/{ticket.reference}/", HTTP_ACCEPT_LANGUAGE="bg").content
    text = html.decode()
    routed = TicketEvent.objects.get(ticket=ticket, kind="routed")
    assert "from institution" in routed.note
    assert "from institution" not in text
    assert "по институция" in text
