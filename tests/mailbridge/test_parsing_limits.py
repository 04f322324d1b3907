"""Hostile structure in mail: what the parser bounds and how it says so.

A message the email package cannot build at all comes back with its headers
and ``structure_unreadable`` set; MIME parts and attachments beyond fixed caps
are counted, not read; the HTML body is sanitised once, in time linear in its
length. Pure tests, no database.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from helpdesk.sanitize import MAX_DEPTH, clean_html
from mailbridge import parsing
from mailbridge.parsing import MAX_ATTACHMENTS, MAX_PARTS, MAX_SAFE_HTML_CHARS, parse_message

HEAD = (
    b"From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <Ivan.Petrov@School-42.bg>\r\n"
    b"To: Helpdesk <helpdesk@edu.mon.bg>\r\n"
    b"Subject: =?UTF-8?Q?=D0=9F=D1=80=D0=BE=D0=B1=D0=BB=D0=B5=D0=BC?=\r\n"
    b"Message-ID: <limits.1@school.bg>\r\n"
    b"Date: Tue, 01 Dec 2026 10:15:00 +0200\r\n"
    b"MIME-Version: 1.0\r\n"
)


def nested_multiparts(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="level%d"\r\n\r\n--level%d\r\n' % (level, level)
        for level in range(depth)
    )
    closing = b"".join(b"\r\n--level%d--\r\n" % level for level in reversed(range(depth)))
    return (
        HEAD
        + opening
        + "Content-Type: text/plain; charset=utf-8\r\n\r\nЗдравейте\r\n".encode()
        + closing
    )


def with_parts(count: int, *, inner: bytes = b"", boundary: str = "BB") -> bytes:
    mark = boundary.encode()
    text = f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nТекст на писмото\r\n"
    parts = [text.encode()]
    for number in range(count):
        parts.append(
            b"--%s\r\nContent-Type: application/octet-stream\r\n"
            b'Content-Disposition: attachment; filename="file%d.bin"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n" % (mark, number)
        )
    if inner:
        parts.append(b"--" + mark + b"\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n")
    return (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="'
        + mark
        + b'"\r\n\r\n'
        + b"".join(parts)
        + b"--"
        + mark
        + b"--\r\n"
    )


def html_mail(html: str) -> bytes:
    return HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()


# --------------------------------------------------------------------------
# a message the email package cannot build


def test_thousand_nested_multiparts_keep_their_headers_and_are_flagged():
    parsed = parse_message(nested_multiparts(1000))

    assert parsed.structure_unreadable is True
    assert parsed.from_addr == "ivan.petrov@school-42.bg"
    assert parsed.from_name == "Иван Петров"
    assert parsed.subject == "Проблем"
    assert parsed.message_id == "limits.1@school.bg"
    assert parsed.date is not None
    assert any("headers and raw text kept" in defect for defect in parsed.defects)
    assert "Здравейте" in parsed.text
    assert parsed.attachments == [] and parsed.html == "" and parsed.safe_html == ""


def test_fallback_reads_only_the_headers(monkeypatch):
    def broken(result, raw):
        raise ValueError("no structure")

    monkeypatch.setattr(parsing, "_parse_into", broken)

    parsed = parse_message(HEAD + "Content-Type: text/plain; charset=utf-8\r\n\r\nтяло".encode())

    assert parsed.structure_unreadable is True
    assert parsed.subject == "Проблем"
    assert parsed.defects == ["message could not be parsed (ValueError); headers and raw text kept"]
    assert parsed.text == parsed.full_text == "тяло"


def test_fallback_that_fails_too_says_so(monkeypatch):
    def broken(result, raw):
        raise RecursionError

    monkeypatch.setattr(parsing, "_parse_into", broken)
    monkeypatch.setattr(parsing, "_parse_headers_only", broken)

    parsed = parse_message(HEAD)

    assert parsed.structure_unreadable is True
    assert parsed.defects == [
        "message nested too deeply to parse; headers and raw text kept",
        "headers could not be parsed",
    ]


def test_ordinary_message_is_not_flagged():
    parsed = parse_message(with_parts(2))

    assert parsed.structure_unreadable is False
    assert parsed.omitted_parts == 0 and parsed.omitted_attachments == 0
    assert [attachment.filename for attachment in parsed.attachments] == ["file0.bin", "file1.bin"]


# --------------------------------------------------------------------------
# caps on parts and attachments


def test_two_thousand_parts_are_capped_and_counted():
    raw = with_parts(2000)

    started = time.process_time()
    parsed = parse_message(raw)
    elapsed = time.process_time() - started

    # MAX_PARTS parts read: the container, the text and 198 attachment parts.
    assert len(parsed.attachments) == MAX_ATTACHMENTS
    assert parsed.omitted_attachments == MAX_PARTS - 2 - MAX_ATTACHMENTS
    assert parsed.omitted_parts == 2000 + 2 - MAX_PARTS
    assert parsed.text == "Текст на писмото"
    assert parsed.raw_digest == hashlib.sha256(raw).hexdigest()
    assert f"more than {MAX_PARTS} MIME parts; the rest skipped" in parsed.defects
    assert f"more than {MAX_ATTACHMENTS} attachments; the rest skipped" in parsed.defects
    assert elapsed < 2.0


@pytest.mark.parametrize(("count", "omitted"), [(MAX_ATTACHMENTS, 0), (MAX_ATTACHMENTS + 1, 1)])
def test_attachment_cap_is_exact(count, omitted):
    parsed = parse_message(with_parts(count))

    assert len(parsed.attachments) == MAX_ATTACHMENTS if omitted else count
    assert parsed.omitted_attachments == omitted
    assert parsed.omitted_parts == 0


def test_part_cap_is_exact():
    # The container and the text part count too.
    assert parse_message(with_parts(MAX_PARTS - 2)).omitted_parts == 0
    assert parse_message(with_parts(MAX_PARTS - 1)).omitted_parts == 1


def test_parts_of_attached_messages_count_against_the_cap():
    inner = with_parts(MAX_PARTS, boundary="inner")  # a whole message with its own parts

    parsed = parse_message(with_parts(10, inner=inner))

    # outer: container, text, 10 files, the message/rfc822 part; inner: its
    # own message, container, text and files.
    outer_read = 1 + 1 + 10 + 1
    assert parsed.omitted_parts == (MAX_PARTS + 2) - (MAX_PARTS - outer_read)
    assert parsed.attachments[-1].content_type == "message/rfc822"
    assert parsed.omitted_attachments == 0


def test_parts_nested_too_deep_are_counted():
    parsed = parse_message(nested_multiparts(parsing._MAX_DEPTH + 10))

    assert parsed.structure_unreadable is False
    assert parsed.omitted_parts == 10  # nine containers and the text part below the limit
    assert "MIME nesting too deep; inner parts skipped" in parsed.defects


def test_counting_skipped_parts_walks_the_whole_tree():
    message = parsing.BytesParser(policy=parsing._COMPAT32).parsebytes(with_parts(3))

    assert parsing._count_parts(message) == 5


# --------------------------------------------------------------------------
# the HTML body, sanitised once


def test_sixty_thousand_nested_divs_parse_in_under_two_seconds():
    levels = 60_000
    raw = html_mail("<div>" * levels + "Не мога да вляза." + "</div>" * levels)

    started = time.process_time()
    parsed = parse_message(raw)
    elapsed = time.process_time() - started

    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert parsed.text == "Не мога да вляза."
    assert parsed.safe_html == "<div>" * MAX_DEPTH + "Не мога да вляза." + "</div>" * MAX_DEPTH


def test_safe_html_is_the_sanitised_body():
    html = (
        '<p onclick="x()">Здравейте <script>alert(1)</script><a href="https://mon.bg">МОН</a></p>'
    )

    parsed = parse_message(html_mail(html))

    assert parsed.html == html
    assert parsed.safe_html == clean_html(html)
    assert "script" not in parsed.safe_html and "onclick" not in parsed.safe_html
    assert 'href="https://mon.bg"' in parsed.safe_html


def test_plain_text_mail_has_no_safe_html():
    parsed = parse_message(HEAD + "Content-Type: text/plain; charset=utf-8\r\n\r\nтекст".encode())

    assert parsed.html == "" and parsed.safe_html == ""


def test_html_too_long_to_show_keeps_its_text(monkeypatch):
    monkeypatch.setattr(parsing, "MAX_SAFE_HTML_CHARS", 50)
    html = "<p>" + "дълъг текст " * 10 + "</p>"

    parsed = parse_message(html_mail(html))

    assert len(html) > 50
    assert parsed.safe_html == ""
    assert parsed.html == html
    assert "дълъг текст" in parsed.text
    assert "HTML body too long to show; its text is kept" in parsed.defects


def test_long_html_limit_is_generous():
    assert MAX_SAFE_HTML_CHARS >= 1_000_000


def test_sanitiser_failure_keeps_the_message(monkeypatch):
    def broken(html):
        raise ValueError

    monkeypatch.setattr(parsing, "clean_html", broken)

    parsed = parse_message(html_mail("<p>текст</p>"))

    assert parsed.structure_unreadable is False
    assert parsed.safe_html == "" and parsed.text == "текст"
    assert "HTML body not shown (ValueError)" in parsed.defects


# --------------------------------------------------------------------------
# plain text from hostile HTML


def test_deep_quotes_give_bounded_text_in_linear_time():
    from mailbridge.htmltext import html_to_text

    def cost(levels):
        html = "<blockquote>x\n" * levels
        started = time.process_time()
        text = html_to_text(html)
        return time.process_time() - started, text

    small, _ = cost(5_000)
    large, text = cost(20_000)

    # Every line's prefix is capped: blank lines included (they were not,
    # and 60,000 levels made 3.6 GB of text in 70 s).
    assert max(len(line) for line in text.splitlines()) <= 2 * 10 + 1
    assert len(text) < 50 * 20_000
    assert large < 8 * max(small, 0.002)


def test_blank_lines_in_deep_quotes_have_the_capped_prefix():
    from mailbridge.htmltext import html_to_text

    text = html_to_text("<blockquote>" * 12 + "<p>a</p><br><p>b</p>")

    capped = ("> " * 10).rstrip()
    assert text.splitlines() == [capped + " a", capped, capped + " b", capped]
