"""Placeholders in canned replies and macros: a plain lookup, never a template engine."""

import pytest

from tickets.placeholders import NAMES, fill, values_for

VALUES = {
    "requester": "Учител А",
    "reference": "26-000042",
    "institution": "138 СУ",
    "agent": "Експерт X",
    "subject": "Диплома",
}


def kb(slug):
    return {"diplomas": "https://helpdesk.test/kb/bg/diplomas/"}.get(slug)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Здравейте, {{requester}}!", "Здравейте, Учител А!"),
        ("{{ reference }} / {{institution}}", "26-000042 / 138 СУ"),
        ("— {{agent}}", "— Експерт X"),
        ("Вижте {{kb:diplomas}}", "Вижте https://helpdesk.test/kb/bg/diplomas/"),
        # The older single-brace names still work.
        ("{requester_name}, {reference}, {agent_name}", "Учител А, 26-000042, Експерт X"),
        ("", ""),
    ],
)
def test_known_placeholders_are_filled(text, expected):
    filled = fill(text, VALUES, kb_link=kb)
    assert filled.text == expected
    assert filled.complete


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("{{password}}", ("{{password}}",)),
        ("{{kb:missing}}", ("{{kb:missing}}",)),
        ("{{requester:x}}", ("{{requester:x}}",)),
        ("{{kb}}", ("{{kb}}",)),
        ("{{a}} и {{b}}", ("{{a}}", "{{b}}")),
    ],
)
def test_unknown_placeholders_stay_visible_and_are_reported(text, unknown):
    filled = fill(text, VALUES, kb_link=kb)
    assert filled.text == text
    assert filled.unknown == unknown
    assert not filled.complete


@pytest.mark.parametrize(
    "text",
    [
        "{{requester.__class__}}",
        "{{requester.__init__.__globals__}}",
        "{% load static %}{% debug %}",
        "{{ ticket.requester.password }}",
        "{0.__class__}",
        "{requester_name.__class__}",
        "{{{{",
        "}}{{",
        "{{ requester|safe }}",
    ],
)
def test_hostile_text_reaches_nothing_and_is_not_evaluated(text):
    filled = fill(text, VALUES, kb_link=kb)
    assert filled.text == text  # nothing here is a known placeholder: left exactly as written


def test_values_are_inserted_once_never_filled_again():
    hostile = {**VALUES, "requester": "{{agent}} {requester_name} {{kb:diplomas}}"}
    filled = fill("Здравейте, {{requester}}! {{reference}}", hostile, kb_link=kb)
    assert filled.text == "Здравейте, {{agent}} {requester_name} {{kb:diplomas}}! 26-000042"
    assert filled.complete


def test_braces_that_are_not_placeholders_are_left_alone():
    text = 'JSON: {"a": {"b": 1}} and {x} and {{ }} and { {requester} }'
    filled = fill(text, VALUES)
    assert filled.text == text
    assert filled.complete


def test_huge_text_is_filled_linearly_and_completely():
    unit = "{{requester}} {{{{{{{{ {{x " * 1000
    text = unit * 40  # about a megabyte of hostile braces
    filled = fill(text, VALUES)
    assert filled.text.count("Учител А") == 40_000
    assert len(filled.unknown) == 0
    long_names = "{{" + "a" * 10_000 + "}}"
    assert fill(long_names, VALUES).text == long_names


def test_without_a_kb_resolver_kb_links_are_unknown():
    filled = fill("{{kb:diplomas}}", VALUES)
    assert filled.unknown == ("{{kb:diplomas}}",)


def test_values_for_a_ticket(cast, make_ticket):
    ticket = make_ticket()
    values = values_for(ticket, cast.expert_x)
    assert set(values) == set(NAMES)
    assert values["requester"] == "Учител А"
    assert values["reference"] == ticket.reference
    assert values["institution"] == str(cast.school_a)
    assert values["agent"] == "Експерт X"
