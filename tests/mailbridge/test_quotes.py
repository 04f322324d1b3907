"""Tests for mailbridge.quotes.split_reply (pure)."""

from __future__ import annotations

import pytest

from mailbridge.quotes import split_reply

OUTLOOK_BG = """Здравейте,
проблемът остава.

Поздрави,
Мария

________________________________
От: Helpdesk НЕИСПУО <helpdesk@edu.mon.bg>
Изпратено: вторник, 1 декември 2026 г. 10:00
До: Мария Иванова <maria@school.bg>
Относно: RE: [HD#26-000123] Вход

Моля, опитайте отново."""

OUTLOOK_EN = """Still broken.

From: Helpdesk <helpdesk@edu.mon.bg>
Sent: Tuesday, December 1, 2026 10:00 AM
To: Maria <maria@school.bg>
Subject: RE: [HD#26-000123] Login

Please try again."""

OUTLOOK_BOLD_ONE_LINE = """Still broken.

*From:* Helpdesk <helpdesk@edu.mon.bg> *Sent:* Tuesday, December 1, 2026 10:00
Please try again."""

ORIGINAL_MESSAGE_EN = """Thanks!

-----Original Message-----
From: Helpdesk
Please try again."""

ORIGINAL_MESSAGE_BG = """Благодаря!

-----Оригинално съобщение-----
От: Helpdesk
Моля, опитайте отново."""

GMAIL_EN = """It works now.

On Tue, Dec 1, 2026 at 10:00 AM Helpdesk <helpdesk@edu.mon.bg> wrote:
> Please try again.
>
> Regards"""

GMAIL_EN_WRAPPED = """It works now.

On Tue, Dec 1, 2026 at 10:00 AM Helpdesk НЕИСПУО <
helpdesk@edu.mon.bg> wrote:

> Please try again."""

GMAIL_BG = """Вече работи.

На вт, 1.12.2026 г. в 10:00 Helpdesk <helpdesk@edu.mon.bg> написа:
> Моля, опитайте отново."""

THUNDERBIRD_BG = """Вече работи.

В 1.12.2026 г. в 10:00, Helpdesk <helpdesk@edu.mon.bg> написа:
> Моля, опитайте отново."""

SIGNATURE = "Здравейте,\nимам въпрос за делегирането.\n\n-- \nМария Иванова\nДиректор, 42 СУ"

SIGNATURE_THEN_QUOTE = "Кратък отговор.\n-- \nМария\n\n> стар текст"

ATTRIBUTION_WITHOUT_MARKS = """Added the file.

On Tue, Dec 1, 2026 at 10:00 Helpdesk <helpdesk@edu.mon.bg> wrote:
Please attach the file."""


@pytest.mark.parametrize(
    ("text", "new", "folded_start"),
    [
        (OUTLOOK_BG, "Здравейте,\nпроблемът остава.\n\nПоздрави,\nМария", "______"),
        (OUTLOOK_EN, "Still broken.", "From: Helpdesk"),
        (OUTLOOK_BOLD_ONE_LINE, "Still broken.", "*From:*"),
        (ORIGINAL_MESSAGE_EN, "Thanks!", "-----Original Message-----"),
        (ORIGINAL_MESSAGE_BG, "Благодаря!", "-----Оригинално съобщение-----"),
        (GMAIL_EN, "It works now.", "On Tue, Dec 1, 2026"),
        (GMAIL_EN_WRAPPED, "It works now.", "On Tue, Dec 1, 2026"),
        (GMAIL_BG, "Вече работи.", "На вт, 1.12.2026"),
        (THUNDERBIRD_BG, "Вече работи.", "В 1.12.2026"),
        (SIGNATURE, "Здравейте,\nимам въпрос за делегирането.", "-- \nМария Иванова"),
        (SIGNATURE_THEN_QUOTE, "Кратък отговор.", "-- \nМария"),
        (ATTRIBUTION_WITHOUT_MARKS, "Added the file.", "On Tue"),
    ],
)
def test_split_reply_folds_the_history(text, new, folded_start):
    got_new, folded = split_reply(text)

    assert got_new == new
    assert folded.startswith(folded_start)


def test_the_folded_part_keeps_everything_that_was_cut():
    new, folded = split_reply(OUTLOOK_BG)

    assert "Моля, опитайте отново." in folded
    assert "Изпратено:" in folded
    assert "Моля" not in new


def test_a_bottom_posted_answer_is_kept_and_the_quote_folded():
    text = "On Mon, Helpdesk <hd@edu.mon.bg> wrote:\n> Which school?\n\n42 СУ, София."

    assert split_reply(text) == (
        "42 СУ, София.",
        "On Mon, Helpdesk <hd@edu.mon.bg> wrote:\n> Which school?",
    )


def test_interleaved_answers_are_not_folded():
    text = "> Which school?\n42 СУ.\n> Which class?\n5 А."

    assert split_reply(text) == (text, "")


def test_a_bare_forward_is_not_folded_away():
    text = "-----Original Message-----\nFrom: Someone\nSent: today\n\nThe actual request."

    assert split_reply(text) == (text, "")


def test_a_forward_marker_keeps_the_forwarded_content():
    text = (
        "Please help with this.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Teacher <t@school.bg>\nDate: Tue, Dec 1, 2026\nSubject: Login\n\n"
        "I cannot log in."
    )

    new, folded = split_reply(text)

    assert "I cannot log in." in new
    assert folded == ""


def test_text_without_history_is_unchanged():
    text = "Здравейте,\n\nне мога да вляза в НЕИСПУО.\nОт: кога не знам\n\nМария"

    assert split_reply(text) == (text, "")


def test_plain_words_that_look_like_markers_are_not_cut():
    text = "В понеделник ще пиша.\nOn the other hand, it works."

    assert split_reply(text) == (text, "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("", "")),
        ("\r\nHello\r\n\r\n> q\r\n", ("Hello", "> q")),
        ("   \n\n", ("", "")),
    ],
)
def test_edge_cases(text, expected):
    assert split_reply(text) == expected


def test_a_long_message_is_split_quickly():
    import time

    text = ("Ред от писмото с малко текст.\n" * 2000) + "\n" + ("> цитат\n" * 5000)

    started = time.perf_counter()
    new, folded = split_reply(text)

    assert time.perf_counter() - started < 0.5
    assert folded.count("\n") == 4999
    assert new.count("\n") == 1999
