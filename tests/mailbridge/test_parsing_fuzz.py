"""Property tests: no input makes the mail parsing core raise.

parse_message must return a ParsedMail for any bytes (random, malformed
MIME, truncated transfers); the helpers it uses must hold their contracts
for any text.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbridge.htmltext import html_to_text
from mailbridge.noise import classify
from mailbridge.parsing import ParsedMail, decode_header_value, parse_addresses, parse_message
from mailbridge.quotes import split_reply
from mailbridge.reference import find_reference, format_subject_tag, strip_reply_prefixes

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

CHARSETS = [
    "utf-8",
    "windows-1251",
    "koi8-r",
    "iso-8859-1",
    "iso-8859-5",
    "utf-7",
    "gb2312",
    "iso-2022-jp",
    "us-ascii",
    "x-bogus",
    "",
    "utf-16",
    "rot13",
    "base64",
]
ENCODINGS = [
    "7bit",
    "8bit",
    "binary",
    "base64",
    "quoted-printable",
    "x-uuencode",
    "utf-8",
    "b@d",
    "",
]
TYPES = [
    "text/plain",
    "text/html",
    "text/rfc822-headers",
    "image/png",
    "application/pdf",
    "application/ms-tnef",
    "message/delivery-status",
    "message/rfc822",
    "multipart/mixed",
    "multipart/alternative",
    "multipart/related",
    "multipart/report",
    "multipart/signed",
    "garbage",
]

header_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "=?utf-8?B?0JjQstCw0L0=?=",
            "=?windows-1251?Q?=CF=F0=E8?=",
            "=?bogus?Q?x?=",
            "=?utf-8?B?!!!?=",
            "=?utf-8?Q?",
            '"unbalanced <a@b',
            "a@b, <c@d>, (comment",
            "<>",
            "undisclosed-recipients:;",
        ]
    ),
)
raw_bytes = st.binary(max_size=300)


def _header_block(draw, content_type: str, boundary: str) -> bytes:
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    name = draw(header_text)
    lines = [
        f'Content-Type: {content_type}; charset="{charset}"; boundary="{boundary}"; name="{name}"',
        f"Content-Transfer-Encoding: {encoding}",
    ]
    if draw(st.booleans()):
        lines.append(f"Content-Disposition: attachment; filename*=utf-8''{draw(header_text)}")
    if draw(st.booleans()):
        lines.append(f"Content-ID: <{draw(st.text(max_size=20))}>")
    return "\n".join(lines).encode("utf-8", "surrogatepass").replace(b"\r", b"")


@st.composite
def mime_part(draw, depth: int = 0) -> bytes:
    content_type = draw(st.sampled_from(TYPES))
    boundary = draw(st.sampled_from(["B", "==b==", "x" * 70, "", "-"])) + str(depth)
    head = _header_block(draw, content_type, boundary)
    if content_type.startswith("multipart/") and depth < 4:
        children = draw(st.lists(mime_part(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\n" + child + b"\n" for child in children)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\n"
    elif content_type == "message/rfc822" and depth < 4:
        body = draw(message(depth + 1))
    else:
        body = draw(raw_bytes)
    return head + b"\n\n" + body


@st.composite
def message(draw, depth: int = 0) -> bytes:
    headers = []
    for name in draw(
        st.lists(
            st.sampled_from(
                [
                    "From",
                    "To",
                    "Cc",
                    "Subject",
                    "Date",
                    "Message-ID",
                    "References",
                    "Reply-To",
                    "In-Reply-To",
                    "Auto-Submitted",
                    "X-Weird",
                ]
            ),
            max_size=8,
        )
    ):
        headers.append(f"{name}: {draw(header_text)}".encode("utf-8", "surrogatepass"))
    if draw(st.booleans()):
        headers.append(b"Subject: " + draw(st.binary(max_size=40)).replace(b"\n", b" "))
    raw = b"\n".join(headers) + b"\n" + draw(mime_part(depth))
    if draw(st.booleans()):
        raw = raw.replace(b"\n", b"\r\n")
    return raw


def assert_sound(raw: bytes, parsed: ParsedMail) -> None:
    assert isinstance(parsed, ParsedMail)
    assert parsed.raw_digest == hashlib.sha256(raw).hexdigest()
    for name in (
        "message_id",
        "in_reply_to",
        "from_addr",
        "from_name",
        "reply_to",
        "subject",
        "text",
        "quoted",
        "full_text",
        "html",
        "report_type",
        "bounce_original_message_id",
    ):
        assert isinstance(getattr(parsed, name), str), name
    assert parsed.from_addr == parsed.from_addr.lower()
    assert all(isinstance(item, str) for item in parsed.to + parsed.cc + parsed.references)
    assert parsed.date is None or (isinstance(parsed.date, datetime) and parsed.date.tzinfo)
    assert "\r" not in parsed.text
    for attachment in parsed.attachments:
        assert isinstance(attachment.payload, bytes)
        assert attachment.filename
        assert "/" not in attachment.filename and "\\" not in attachment.filename
        assert all(ord(char) >= 32 and ord(char) != 127 for char in attachment.filename)
    assert all(
        isinstance(key, str) and isinstance(value, str) for key, value in parsed.headers.items()
    )
    classify(parsed, {"helpdesk@edu.mon.bg"})


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(raw):
    assert_sound(raw, parse_message(raw))


@FUZZ
@given(message())
def test_malformed_mime_never_raises(raw):
    assert_sound(raw, parse_message(raw))


@FUZZ
@given(message(), st.data())
def test_truncated_and_damaged_messages_never_raise(raw, data):
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    truncated = raw[:cut]
    assert_sound(truncated, parse_message(truncated))
    if raw:
        position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        damaged = (
            raw[:position] + data.draw(st.binary(min_size=1, max_size=8)) + raw[position + 1 :]
        )
        assert_sound(damaged, parse_message(damaged))


@FUZZ
@given(st.text(max_size=300))
def test_header_helpers_accept_any_text(text):
    assert isinstance(decode_header_value(text), str)
    for name, address in parse_addresses(text):
        assert isinstance(name, str) and address == address.lower()


@FUZZ
@given(st.text(max_size=500))
def test_html_to_text_accepts_any_text(html):
    assert isinstance(html_to_text(html), str)
    assert isinstance(html_to_text("<p>" + html + "</blockquote></ul><li><pre>"), str)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "text",
                "> quote",
                "",
                "-- ",
                "On x wrote:",
                "От: a",
                "Изпратено: b",
                "-----Original Message-----",
                "На x написа:",
                "  indented",
            ]
        ),
        max_size=30,
    )
)
def test_split_reply_loses_no_line(lines):
    text = "\n".join(lines)

    new, folded = split_reply(text)

    def kept(value: str) -> list[str]:
        return sorted(line.rstrip() for line in value.split("\n") if line.strip())

    assert kept(new + "\n" + folded) == kept(text)


@FUZZ
@given(
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=10**9),
    st.lists(
        st.sampled_from(["Re: ", "RE:", "Fwd: ", "Отг: ", "ОТГ:", "Препр.: ", "AW: "]), max_size=5
    ),
    st.text(max_size=40),
)
def test_a_formatted_tag_is_always_found_again(year, number, prefixes, title):
    reference = f"{year:02d}-{number:06d}"
    subject = "".join(prefixes) + format_subject_tag(reference) + " " + title

    assert find_reference(subject) == reference
    assert isinstance(strip_reply_prefixes(subject), str)
