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


# --- one case for each wording the patterns know ---------------------------------------

SEPARATOR_WORDINGS = [
    "Original Message",
    "Оригинално съобщение",
    "Оригинално писмо",
    "Ursprüngliche Nachricht",
    "Original Nachricht",
    "Originalnachricht",
    "Message d'origine",
    "Mensaje original",
    "Исходное сообщение",
]


@pytest.mark.parametrize("wording", SEPARATOR_WORDINGS)
def test_each_original_message_separator_cuts(wording):
    text = f"Благодаря!\n\n-----{wording}-----\nОт: Helpdesk\nМоля, опитайте отново."

    assert split_reply(text) == (
        "Благодаря!",
        f"-----{wording}-----\nОт: Helpdesk\nМоля, опитайте отново.",
    )


FORWARD_MARKERS = [
    "---------- Forwarded message ---------",
    "-------- Препратено съобщение --------",
    "-------- Препратено писмо --------",
    "-------- Weitergeleitete Nachricht --------",
    "-------- Message transféré --------",
    "-------- Пересланное сообщение --------",
    "Begin forwarded message:",
    "Начало на препратеното съобщение:",
]


@pytest.mark.parametrize("marker", FORWARD_MARKERS)
def test_each_forward_marker_keeps_the_forwarded_header_block(marker):
    text = (
        f"Моля, вижте по-долу.\n\n{marker}\n"
        "From: Teacher <t@school.bg>\nSent: Tuesday, December 1, 2026\n\nI cannot log in."
    )

    assert split_reply(text) == (text, "")


# (first header, later header) of an Outlook block, in the clients' languages
HEADER_BLOCKS = [
    ("From", "Sent"),
    ("From", "Date"),
    ("От", "Изпратено"),
    ("От", "Изпратен"),
    ("От", "Дата"),
    ("От кого", "Дата"),
    ("От", "Отправлено"),
    ("Von", "Gesendet"),
    ("Von", "Datum"),
    ("De", "Envoyé"),
    ("Od", "Datum"),
    ("*From", "*Sent"),
]


@pytest.mark.parametrize(("first", "later"), HEADER_BLOCKS)
def test_each_outlook_header_block_cuts(first, later):
    block = f"{first}: Helpdesk <hd@edu.mon.bg>\n{later}: 1.12.2026 10:00\n\nМоля, опитайте отново."

    assert split_reply(f"Все още не работи.\n\n{block}") == ("Все още не работи.", block)


@pytest.mark.parametrize(
    "line",
    [
        "From: Helpdesk <hd@edu.mon.bg> Sent: Tuesday, December 1, 2026 10:00",
        "От: Helpdesk <hd@edu.mon.bg> Изпратено: вторник, 1 декември 2026 г. 10:00",
    ],
)
def test_a_header_block_on_one_line_cuts(line):
    text = f"Все още не работи.\n\n{line}\nМоля, опитайте отново."

    assert split_reply(text) == ("Все още не работи.", f"{line}\nМоля, опитайте отново.")


ATTRIBUTIONS = [
    "On Tue, Dec 1, 2026 at 10:00 AM Helpdesk <hd@edu.mon.bg> wrote:",
    "На вт, 1.12.2026 г. в 10:00 Helpdesk <hd@edu.mon.bg> написа:",
    "В 1.12.2026 г. в 10:00, Helpdesk <hd@edu.mon.bg> написа:",
    "Am 01.12.2026 um 10:00 schrieb Helpdesk <hd@edu.mon.bg>:",
    "Le mar. 1 déc. 2026 à 10:00, Helpdesk <hd@edu.mon.bg> a écrit :",
]


@pytest.mark.parametrize("attribution", ATTRIBUTIONS)
def test_each_attribution_is_folded_with_its_quote(attribution):
    text = f"Вече работи.\n\n{attribution}\n> Моля, опитайте отново."

    assert split_reply(text) == ("Вече работи.", f"{attribution}\n> Моля, опитайте отново.")


@pytest.mark.parametrize("delimiter", ["-- ", "--\u00a0"])
def test_each_signature_delimiter_cuts(delimiter):
    text = f"Кратък отговор.\n{delimiter}\nМария Иванова"

    assert split_reply(text) == ("Кратък отговор.", f"{delimiter}\nМария Иванова")


@pytest.mark.parametrize("line", ["--", "---", " --", "-- Мария"])
def test_other_dashes_are_no_signature(line):
    text = f"Кратък отговор.\n{line}\nМария Иванова"

    assert split_reply(text) == (text, "")


# --- limits and shapes --------------------------------------------------------------------

# (id, text, expected (new, folded))
SHAPE_CASES = [
    (
        "sent header four lines below",
        "Нов текст.\n\nFrom: A\nTo: B\nCc: C\nBcc: D\nSent: today\nБ",
        ("Нов текст.", "From: A\nTo: B\nCc: C\nBcc: D\nSent: today\nБ"),
    ),
    (
        "sent header five lines below",
        "Нов текст.\n\nFrom: A\nTo: B\nCc: C\nBcc: D\nReply-To: E\nSent: today\nБ",
        ("Нов текст.\n\nFrom: A\nTo: B\nCc: C\nBcc: D\nReply-To: E\nSent: today\nБ", ""),
    ),
    (
        "date line above a from line",
        "Date: tomorrow\nFrom: Maria\nТекст.",
        ("Date: tomorrow\nFrom: Maria\nТекст.", ""),
    ),
    (
        "header line of 1000 characters",
        "Нов текст.\nОт: " + "я" * 996 + "\nДата: днес",
        ("Нов текст.", "От: " + "я" * 996 + "\nДата: днес"),
    ),
    (
        "longer header line is text",
        "Нов текст.\nОт: " + "я" * 997 + "\nДата: днес",
        ("Нов текст.\nОт: " + "я" * 997 + "\nДата: днес", ""),
    ),
    (
        "indented header block",
        "Нов текст.\n   From: A\n   Sent: today\nБ",
        ("Нов текст.", "   From: A\n   Sent: today\nБ"),
    ),
    (
        "indented separator",
        "Нов текст.\n  -----Original Message-----\nБ",
        ("Нов текст.", "  -----Original Message-----\nБ"),
    ),
    (
        "rule, blank line, header block",
        "Нов текст.\n____________\n\nFrom: A\nSent: today\nБ",
        ("Нов текст.", "____________\n\nFrom: A\nSent: today\nБ"),
    ),
    (
        "rule and header block only",
        "____________\nFrom: A\nSent: today\nБ",
        ("____________\nFrom: A\nSent: today\nБ", ""),
    ),
    (
        "forward marker, blank line, header block",
        "Вижте.\n---------- Forwarded message ---------\n\nFrom: A\nSent: today\nБ",
        ("Вижте.\n---------- Forwarded message ---------\n\nFrom: A\nSent: today\nБ", ""),
    ),
    (
        "forward marker first",
        "---------- Forwarded message ---------\nFrom: A\nSent: today\nБ",
        ("---------- Forwarded message ---------\nFrom: A\nSent: today\nБ", ""),
    ),
    (
        "forward, then a signature",
        "Вижте.\n---------- Forwarded message ---------\nFrom: A\nSent: today\nБ\n-- \nМария",
        ("Вижте.\n---------- Forwarded message ---------\nFrom: A\nSent: today\nБ", "-- \nМария"),
    ),
    (
        "attribution wrapped before wrote",
        "Готово.\n\nOn Tue, Dec 1, 2026 at 10:00 Helpdesk <hd@edu.mon.bg>\nwrote:\n> Моля.",
        ("Готово.", "On Tue, Dec 1, 2026 at 10:00 Helpdesk <hd@edu.mon.bg>\nwrote:\n> Моля."),
    ),
    (
        "wrapped attribution ending the text",
        "Готово.\n\nOn Tue, Dec 1, 2026 at 10:00 Helpdesk <\nhd@edu.mon.bg> wrote:",
        ("Готово.", "On Tue, Dec 1, 2026 at 10:00 Helpdesk <\nhd@edu.mon.bg> wrote:"),
    ),
    (
        "second attribution line of 200 characters",
        "Готово.\n\nOn Tue, Helpdesk <\n" + "h" * 187 + "@x.bg> wrote:\n> Моля.",
        ("Готово.", "On Tue, Helpdesk <\n" + "h" * 187 + "@x.bg> wrote:\n> Моля."),
    ),
    (
        "second attribution line of 201 characters",
        "Готово.\n\nOn Tue, Helpdesk <\n" + "h" * 188 + "@x.bg> wrote:\n> Моля.",
        ("Готово.\n\nOn Tue, Helpdesk <\n" + "h" * 188 + "@x.bg> wrote:", "> Моля."),
    ),
    (
        "quote and signature both folded",
        "Отговор.\n\n> стар текст\n-- \nМария",
        ("Отговор.", "> стар текст\n\n-- \nМария"),
    ),
    (
        "blank line inside the quote",
        "Отговор.\n\n> първи\n\n> втори",
        ("Отговор.", "> първи\n\n> втори"),
    ),
    (
        "quote first, answer below, final newline",
        "> Which school?\n\n42 СУ, София.\n",
        ("42 СУ, София.", "> Which school?"),
    ),
    (
        "answer right below the quote",
        "On Mon, Helpdesk <hd@edu.mon.bg> wrote:\n> Which school?\n42 СУ, София.",
        ("42 СУ, София.", "On Mon, Helpdesk <hd@edu.mon.bg> wrote:\n> Which school?"),
    ),
    (
        "blank line kept between text and the answer below the quote",
        "Текст.\n\n> цитат\nОтговор.",
        ("Текст.\n\nОтговор.", "> цитат"),
    ),
    (
        "spaces ending the new lines go, indentation stays",
        "  Първо   \nВторо \t\n\n> цитат  ",
        ("  Първо\nВторо", "> цитат  "),
    ),
    (
        "wrapped attribution above a quote and the answer",
        "On Tue, Dec 1, 2026 at 10:00 Helpdesk <\nhd@edu.mon.bg> wrote:\n> Which school?\n\n42 СУ.",
        (
            "42 СУ.",
            "On Tue, Dec 1, 2026 at 10:00 Helpdesk <\nhd@edu.mon.bg> wrote:\n> Which school?",
        ),
    ),
    (
        "a sentence that begins like an attribution",
        "Здравейте.\nВ понеделник ще пиша.",
        ("Здравейте.\nВ понеделник ще пиша.", ""),
    ),
    (
        "indented quote",
        "Отговор.\n\n  > цитат\n   > още",
        ("Отговор.", "  > цитат\n   > още"),
    ),
    (
        "attribution line at the very end",
        "> Which school?\n42 СУ.\nOn Tue, Helpdesk <hd@edu.mon.bg> wrote:",
        ("42 СУ.\nOn Tue, Helpdesk <hd@edu.mon.bg> wrote:", "> Which school?"),
    ),
    (
        "an attribution between two quotes parts them",
        "Отговор.\n\n> първи\nOn Mon, Helpdesk <hd@edu.mon.bg> wrote:\n> втори",
        ("Отговор.\n\n> първи\nOn Mon, Helpdesk <hd@edu.mon.bg> wrote:\n> втори", ""),
    ),
    (
        "crlf line ends",
        "Първо\r\nВторо\r\n\r\n> цитат\r\n",
        ("Първо\nВторо", "> цитат"),
    ),
    (
        "cr line ends",
        "Първо\rВторо\r\r> цитат\r",
        ("Първо\nВторо", "> цитат"),
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in SHAPE_CASES],
    ids=[case[0] for case in SHAPE_CASES],
)
def test_shapes(text, expected):
    assert split_reply(text) == expected
