"""Tests for mailbridge.parsing and mailbridge.htmltext (pure, no database)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailbridge.htmltext import html_to_text
from mailbridge.parsing import (
    ParsedMail,
    clean_filename,
    decode_bytes,
    decode_header_value,
    parse_addresses,
    parse_message,
)


def mail(headers: str, body: bytes | str = "Здравейте", *, crlf: bool = False) -> bytes:
    """Build raw message bytes from a header block written in the test."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = "\n".join(line.strip() for line in headers.strip().splitlines())
    raw = head.encode("utf-8", "surrogateescape") + b"\n\n" + body
    return raw.replace(b"\n", b"\r\n") if crlf else raw


def multipart(subtype: str, boundary: str, *parts: bytes, headers: str = "") -> bytes:
    """Build a multipart body (with its own Content-Type line first)."""
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n'.encode()]
    if headers:
        out.append(headers.strip().encode() + b"\n")
    out.append(b"\nThis is a multi-part message in MIME format.\n")
    for part in parts:
        out.append(f"--{boundary}\n".encode() + part + b"\n")
    out.append(f"--{boundary}--\n".encode())
    return b"".join(out)


def top(headers: str, body_with_content_type: bytes) -> bytes:
    """Join top-level headers with a body that starts with its own Content-Type."""
    return headers.strip().encode("utf-8") + b"\n" + body_with_content_type


BASIC = """
From: =?UTF-8?B?0JjQstCw0L0g0J/QtdGC0YDQvtCy?= <Ivan.Petrov@School-42.bg>
To: Helpdesk <helpdesk@edu.mon.bg>, "Колега, Втори" <second@school.bg>
Cc: director@school.bg
Reply-To: <replies@school.bg>
Subject: =?UTF-8?Q?=D0=9F=D1=80=D0=BE=D0=B1=D0=BB=D0=B5=D0=BC_=D1=81_=D0=B2=D1=85=D0=BE=D0=B4?=
Date: Tue, 01 Dec 2026 10:15:00 +0200
Message-ID: <abc.123@school.bg>
In-Reply-To: <hd-1@edu.mon.bg>
References: <root@edu.mon.bg> <hd-1@edu.mon.bg>
X-Mailer: Test
X-Mailer: Second
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit
"""


class TestHeaders:
    def test_it_reads_the_envelope_of_a_plain_message(self):
        parsed = parse_message(mail(BASIC, "Не мога да вляза."))

        assert isinstance(parsed, ParsedMail)
        assert parsed.from_addr == "ivan.petrov@school-42.bg"
        assert parsed.from_name == "Иван Петров"
        assert parsed.to == ["helpdesk@edu.mon.bg", "second@school.bg"]
        assert parsed.cc == ["director@school.bg"]
        assert parsed.reply_to == "replies@school.bg"
        assert parsed.subject == "Проблем с вход"
        assert parsed.date == datetime(2026, 12, 1, 10, 15, tzinfo=timezone(timedelta(hours=2)))
        assert parsed.message_id == "abc.123@school.bg"
        assert parsed.in_reply_to == "hd-1@edu.mon.bg"
        assert parsed.references == ["root@edu.mon.bg", "hd-1@edu.mon.bg"]
        assert parsed.text == "Не мога да вляза."
        assert parsed.html == ""
        assert parsed.attachments == []
        assert parsed.defects == []

    def test_it_keeps_the_first_occurrence_of_each_header_lower_cased(self):
        parsed = parse_message(mail(BASIC))

        assert parsed.headers["x-mailer"] == "Test"
        assert "X-Mailer" not in parsed.headers

    def test_raw_digest_is_the_sha256_of_the_raw_bytes(self):
        raw = mail(BASIC)

        assert parse_message(raw).raw_digest == hashlib.sha256(raw).hexdigest()

    def test_it_works_with_crlf_line_ends(self):
        parsed = parse_message(mail(BASIC, "ред 1\nред 2", crlf=True))

        assert parsed.subject == "Проблем с вход"
        assert parsed.text == "ред 1\nред 2"

    @pytest.mark.parametrize(
        ("date", "expected"),
        [
            ("Mon, 21 Dec 2020 11:33:03 +0900 (JST)", datetime(2020, 12, 21, 2, 33, 3, tzinfo=UTC)),
            ("21 Dec 2020 11:33:03 -0000", datetime(2020, 12, 21, 11, 33, 3, tzinfo=UTC)),
        ],
    )
    def test_dates_are_timezone_aware(self, date, expected):
        parsed = parse_message(mail(f"From: a@b.bg\nDate: {date}"))

        assert parsed.date == expected
        assert parsed.date.tzinfo is not None

    def test_an_unreadable_date_is_none_with_a_defect(self):
        parsed = parse_message(mail("From: a@b.bg\nDate: Wed, 05 Sep 2018 29:24:05 +0700"))

        assert parsed.date is None
        assert "unreadable Date header" in parsed.defects

    def test_a_missing_message_id_is_an_empty_string(self):
        parsed = parse_message(mail("From: a@b.bg\nSubject: x"))

        assert parsed.message_id == ""
        assert parsed.in_reply_to == ""
        assert parsed.references == []

    def test_a_message_id_without_brackets_is_kept(self):
        parsed = parse_message(mail("From: a@b.bg\nMessage-Id: 20180802145828.58E@mail.cz"))

        assert parsed.message_id == "20180802145828.58E@mail.cz"

    def test_from_without_an_address_falls_back_to_reply_to(self):
        parsed = parse_message(mail('From: "=?GB2312?B?ztI=?=" <>\nReply-To: <Real@126.com>'))

        assert parsed.from_addr == "real@126.com"
        assert parsed.from_name == "我"
        assert "From has no address; Reply-To used" in parsed.defects

    def test_of_two_from_headers_the_one_with_an_address_wins(self):
        parsed = parse_message(mail("From: [??????]\nFrom: Name <name@example.cn>"))

        assert parsed.from_addr == "name@example.cn"
        assert parsed.from_name == "Name"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?B?0JjQstCw0L0=?=", "Иван"),
        ("=?utf-8?Q?=D0=98=D0=B2=D0=B0=D0=BD_=D0=9F.?=", "Иван П."),
        ("=?windows-1251?B?z/Do4uXy?=", "Привет"),
        ("=?koi8-r?B?8NLJ18XU?=", "Привет"),
        ("=?iso-8859-5?Q?=BF=E0=D8=D2=D5=E2?=", "Привет"),
        ("=?ISO-8859-1?Q?Gr=FC=DFe?=", "Grüße"),
        # adjacent words: the whitespace between them is not text
        ("=?utf-8?Q?a?= =?utf-8?Q?b?=", "ab"),
        ("=?utf-8?Q?a?=\r\n =?utf-8?Q?b?= c", "ab c"),
        # a UTF-8 character split over two words
        ("=?utf-8?B?0Jg=?= =?utf-8?B?0LLQsNC9?=", "Иван"),
        # mixed charsets in one header
        ("=?Windows-1252?Q?Hans_B=C4KO?= =?iso-8859-15?q?Sch=F6nland?=", "Hans BÄKOSchönland"),
        ("=?unicode-1-1-utf-7?Q?+ANw-bermittlung?=", "Übermittlung"),
        ("=?GB2312?B?vqvS5sn6svrJwbvpLMrHy621xNTwyM4=?=", "精益生产闪婚,是谁的责任"),
        ("=?iso-2022-jp?B?GyRCMixLXE9CQDUbKEI=?=", "岡本和正"),
        # Shift_JIS bytes under an ISO-2022-JP label
        ("=?ISO-2022-JP?B?g2OBW4OLIEVYQU1QTEU=?=", "ツール EXAMPLE"),
        # RFC 2231 language suffix and a lower-case encoding letter
        ("=?utf-8*bg?b?0JTQsA==?=", "Да"),
        # broken: missing end marker stays literal, bad padding still decodes
        ("=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated"),
        ("=?utf-8?B?0JTQsA?=", "Да"),
        ("=?x-unknown-charset?Q?abc?=", "abc"),
        ("plain text", "plain text"),
        ("tab\there", "tab here"),
        ("", ""),
    ],
)
def test_decode_header_value(raw, expected):
    assert decode_header_value(raw) == expected


@pytest.mark.parametrize(
    ("data", "charset", "hints", "expected"),
    [
        ("Привет".encode("cp1251"), "windows-1251", (), "Привет"),
        ("Привет".encode("koi8_r"), "KOI8-R", (), "Привет"),
        ("Grüße".encode("latin-1"), "ISO-8859-1", (), "Grüße"),
        ("€ sign".encode("cp1252"), "iso-8859-1", (), "€ sign"),
        ("Ελλάδα".encode("iso-8859-7"), "iso-8859-7", (), "Ελλάδα"),
        ("中文".encode("gb2312"), "gb2312", (), "中文"),
        ("日本語".encode("iso2022_jp"), "ISO-2022-JP", (), "日本語"),
        ("Ünïcödé".encode("utf-7"), "utf-7", (), "Ünïcödé"),
        # undeclared 8-bit: UTF-8, then windows-1251, then Western
        ("Здравейте".encode(), None, (), "Здравейте"),
        ("Здравейте".encode("cp1251"), None, (), "Здравейте"),
        ("Wölbung".encode("latin-1"), None, (), "Wölbung"),
        ("Wölbung".encode("latin-1"), "us-ascii", (), "Wölbung"),
        # a charset declared elsewhere in the message guides the guess
        ("中文".encode("gb2312"), None, ("iso-8859-1", "gb2312"), "中文"),
        # mislabelled UTF-8 and unknown labels
        ("Čtvrtek".encode(), "windows-1250", (), "Čtvrtek"),
        ("Здравейте".encode(), "x-no-such-charset", (), "Здравейте"),
        ("Здравейте".encode("cp1251"), "utf-8", (), "Здравейте"),
        (b"", "utf-8", (), ""),
    ],
)
def test_decode_bytes(data, charset, hints, expected):
    assert decode_bytes(data, charset, hints) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan <IVAN@School.BG>", [("Ivan", "ivan@school.bg")]),
        (
            '"Petrov, Ivan" <ivan@school.bg>, maria@school.bg',
            [("Petrov, Ivan", "ivan@school.bg"), ("", "maria@school.bg")],
        ),
        ("ivan@school.bg (Ivan Petrov)", [("Ivan Petrov", "ivan@school.bg")]),
        (
            "MAILER-DAEMON (Mail Delivery System) <postmaster@x.bg>",
            [("MAILER-DAEMON", "postmaster@x.bg")],
        ),
        # an encoded word hides a comma: still one mailbox
        (
            "=?iso-8859-1?Q?B=FCrling,=20Andreas?= <smith@example.com>",
            [("Bürling, Andreas", "smith@example.com")],
        ),
        # encoded-word spoofing: a decoded name never becomes the address
        (
            "=?utf-8?Q?director@edu.mon.bg?= <evil@example.com>",
            [("director@edu.mon.bg", "evil@example.com")],
        ),
        ("=?utf-8?B?ZGlyZWN0b3JAZWR1Lm1vbi5iZw==?=", [("director@edu.mon.bg", "")]),
        ("=?utf-8?Q?a@b.bg=3E?= <real@example.com>", [("a@b.bg", "real@example.com")]),
        # broken quoting seen in the wild
        ("Test test@example.com", [("Test", "test@example.com")]),
        ('"finances8@loan.example.com"', [("", "finances8@loan.example.com")]),
        ('"Lottery transfer"@example.com>', [("", '"lottery transfer"@example.com')]),
        ('"unbalanced <a@b.bg>', [("unbalanced", "a@b.bg")]),
        ("=?iso-8859-2?Q?Namedy=F1ski?= (hans@example.com)", [("Namedyński", "hans@example.com")]),
        ("Friends: a@b.bg, c@d.bg;", [("", "a@b.bg"), ("", "c@d.bg")]),
        ("undisclosed-recipients:;", []),
        ("<>", []),
        ("", []),
    ],
)
def test_parse_addresses(raw, expected):
    assert parse_addresses(raw) == expected


class TestCharsetsInMessages:
    @pytest.mark.parametrize(
        ("charset", "text"),
        [
            ("windows-1251", "Здравейте, имам проблем с дневника."),
            ("koi8-r", "Здравствуйте, у меня проблема."),
            ("iso-8859-5", "Здравейте"),
            ("iso-8859-2", "Dobrý den, Łódź"),
            ("gb2312", "绩效管理"),
            ("iso-2022-jp", "メルマガ解除"),
            ("utf-7", "Übermittlung"),
        ],
    )
    def test_text_bodies_are_decoded_with_their_charset(self, charset, text):
        body = text.encode(charset.replace("iso-2022-jp", "iso2022_jp"))
        headers = f"From: a@b.bg\nContent-Type: text/plain; charset={charset}"

        assert parse_message(mail(headers, body)).text == text

    def test_raw_8bit_headers_use_the_charset_of_the_body(self):
        subject = "转发：整体提升".encode("gb2312")
        raw = (
            b"From: a@b.cn\nSubject: " + subject + b"\n"
            b"Content-Type: text/plain; charset=gb2312\n\n" + "正文".encode("gb2312")
        )

        parsed = parse_message(raw)

        assert parsed.subject == "转发：整体提升"
        assert parsed.text == "正文"

    def test_raw_8bit_cyrillic_header_without_a_declared_charset(self):
        raw = b"From: a@b.bg\nSubject: " + "Заявка".encode("cp1251") + b"\n\nx"

        assert parse_message(raw).subject == "Заявка"

    def test_html_charset_is_sniffed_from_the_meta_tag(self):
        html = '<html><head><meta charset="windows-1251"></head><body><p>Тест</p></body></html>'
        raw = mail("From: a@b.bg\nContent-Type: text/html", html.encode("cp1251"))

        parsed = parse_message(raw)

        assert parsed.text == "Тест"
        assert "Тест" in parsed.html


class TestTransferEncodings:
    def test_quoted_printable(self):
        headers = (
            "From: a@b.bg\nContent-Type: text/plain; charset=windows-1251\n"
            "Content-Transfer-Encoding: quoted-printable"
        )

        parsed = parse_message(mail(headers, b"=C7=E4=F0=E0=E2=E5=E9=F2=E5,=\n =F1=E2=FF\n"))

        assert parsed.text == "Здравейте, свя"

    def test_base64_with_broken_padding(self):
        encoded = base64.b64encode("Здравейте".encode()).rstrip(b"=")[:-1]
        headers = "From: a@b.bg\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: BASE64 "

        assert parse_message(mail(headers, encoded)).text.startswith("Здравейт")

    def test_an_invalid_transfer_encoding_keeps_the_body(self):
        headers = "From: a@b.bg\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: utf-8"

        parsed = parse_message(mail(headers, "Текст"))

        assert parsed.text == "Текст"
        assert any("unknown Content-Transfer-Encoding" in defect for defect in parsed.defects)

    def test_an_x_uuencode_attachment_is_decoded(self):
        uu = binascii.b2a_uu(b"Hello Zammad") + b"`\n"
        body = multipart(
            "mixed",
            "B1",
            b"Content-Type: text/plain\n\nAttached.\n",
            b'Content-Type: application/msword; name="notes.txt"\n'
            b'Content-Disposition: attachment; filename="notes.txt"\n'
            b"Content-Transfer-Encoding: x-uuencode\n\n" + uu,
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert [(a.filename, a.payload) for a in parsed.attachments] == [
            ("notes.txt", b"Hello Zammad")
        ]

    def test_an_uuencoded_block_in_a_text_body_becomes_an_attachment(self):
        block = b"begin 644 report.csv\n" + binascii.b2a_uu(b"ID;NAME\n1;A\n") + b"`\nend\n"
        body = b"See the report:\n\n" + block + b"\nBye"

        parsed = parse_message(mail("From: a@b.bg", body))

        assert [(a.filename, a.content_type, a.payload) for a in parsed.attachments] == [
            ("report.csv", "text/csv", b"ID;NAME\n1;A\n")
        ]
        assert "begin 644" not in parsed.text
        assert parsed.text.startswith("See the report:")
        assert parsed.text.endswith("Bye")

    def test_format_flowed_is_unwrapped(self):
        headers = "From: a@b.bg\nContent-Type: text/plain; charset=utf-8; format=flowed"
        body = "Първи ред, който \nпродължава тук.\nВтори ред.\n"

        parsed = parse_message(mail(headers, body))

        assert parsed.text == "Първи ред, който продължава тук.\nВтори ред."


class TestStructure:
    def test_alternative_prefers_the_plain_text_and_keeps_the_raw_html(self):
        body = multipart(
            "alternative",
            "ALT",
            b"Content-Type: text/plain; charset=utf-8\n\nPlain text\n",
            b'Content-Type: text/html; charset=utf-8\n\n<p onclick="x()">HTML <b>text</b></p>\n',
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert parsed.text == "Plain text"
        assert parsed.html.strip() == '<p onclick="x()">HTML <b>text</b></p>'

    def test_an_empty_plain_alternative_falls_back_to_the_html(self):
        body = multipart(
            "alternative",
            "ALT",
            b"Content-Type: text/plain; charset=utf-8\n\n \n",
            b"Content-Type: text/html; charset=utf-8\n\n<div>some html text</div>\n",
        )

        assert parse_message(top("From: a@b.bg", body)).text == "some html text"

    def test_an_html_only_message_is_read_as_text(self):
        raw = mail(
            "From: a@b.bg\nContent-Type: text/html; charset=utf-8",
            "<p>Здравейте,</p><ul><li>едно</li><li>две</li></ul><script>x()</script>",
        )

        parsed = parse_message(raw)

        assert parsed.text == "Здравейте,\n\n- едно\n- две"
        assert "<script>" in parsed.html

    def test_related_cid_images_are_inline_attachments(self):
        png = b"\x89PNG\r\n\x1a\nfake"
        related = multipart(
            "related",
            "REL",
            b'Content-Type: text/html; charset=utf-8\n\n<p>Logo: <img src="cid:logo@x"></p>\n',
            b"Content-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n"
            + base64.b64encode(png),
            b"Content-Type: image/png\nContent-ID: <unused@x>\nContent-Transfer-Encoding: base64\n\n"
            + base64.b64encode(png),
        )
        body = multipart(
            "alternative",
            "ALT",
            b"Content-Type: text/plain\n\nLogo: [logo]\n",
            related,
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert parsed.text == "Logo: [logo]"
        assert [(a.content_id, a.inline, a.payload) for a in parsed.attachments] == [
            ("logo@x", True, png),
            ("unused@x", False, png),
        ]
        assert [a.filename for a in parsed.attachments] == ["attachment-1.png", "attachment-2.png"]

    def test_outlook_content_ids_name_their_images(self):
        body = multipart(
            "related",
            "REL",
            b'Content-Type: text/html\n\n<img src="cid:image001.png@01D2.5D0">\n',
            b"Content-Type: image/png\nContent-ID: <image001.png@01D2.5D0>\n\nPNG",
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert [(a.filename, a.inline) for a in parsed.attachments] == [("image001.png", True)]

    def test_text_parts_around_attachments_are_joined_in_order(self):
        body = multipart(
            "mixed",
            "MIX",
            b"Content-Type: text/plain\n\nText one\n",
            b"Content-Type: application/pdf; name=a.pdf\nContent-Disposition: inline; filename=a.pdf\n\n%PDF",
            b"Content-Type: text/plain\n\nText two\n",
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert parsed.text == "Text one\n\nText two"
        assert [a.filename for a in parsed.attachments] == ["a.pdf"]

    def test_a_forwarded_message_is_an_eml_attachment_and_stays_readable(self):
        forwarded = (
            b"From: =?utf-8?B?0JzQsNGA0LjRjw==?= <maria@school.bg>\n"
            b"To: ivan@school.bg\nSubject: =?utf-8?B?0JTQvdC10LLQvdC40Lo=?=\n"
            b"Date: Mon, 30 Nov 2026 09:00:00 +0200\nMessage-ID: <fwd@school.bg>\n"
            b"Content-Type: text/plain; charset=utf-8\n\n" + "Дневникът не се отваря.\n".encode()
        )
        body = multipart(
            "mixed",
            "MIX",
            b"Content-Type: text/plain; charset=utf-8\n\n" + "Вижте по-долу.\n".encode(),
            b"Content-Type: message/rfc822\nContent-Disposition: attachment\n\n" + forwarded,
        )

        parsed = parse_message(top("From: ivan@school.bg\nSubject: Fwd: Дневник", body))

        assert [(a.filename, a.content_type) for a in parsed.attachments] == [
            ("Дневник.eml", "message/rfc822")
        ]
        inner = parse_message(parsed.attachments[0].payload)
        assert inner.message_id == "fwd@school.bg"
        assert inner.text == "Дневникът не се отваря."
        assert parsed.text.startswith("Вижте по-долу.")
        assert "От: Мария <maria@school.bg>" in parsed.text
        assert "Относно: Дневник" in parsed.text
        assert "Дневникът не се отваря." in parsed.text
        assert "Дневникът не се отваря." in parsed.full_text

    def test_a_base64_encoded_forward_is_decoded_before_reading(self):
        inner = (
            "From: x@school.bg\nSubject: Вътрешно\nMessage-ID: <in@school.bg>\n"
            "Content-Type: text/plain; charset=utf-8\n\nТекст вътре\n"
        ).encode()
        body = multipart(
            "mixed",
            "MIX",
            b"Content-Type: text/plain\n\nsee below\n",
            b'Content-Type: message/rfc822; name="fwd.eml"\nContent-Transfer-Encoding: base64\n\n'
            + base64.encodebytes(inner),
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert [a.filename for a in parsed.attachments] == ["fwd.eml"]
        assert parse_message(parsed.attachments[0].payload).message_id == "in@school.bg"
        assert "Текст вътре" in parsed.text

    def test_tnef_winmail_dat_is_kept_as_an_attachment(self):
        tnef = b"\x78\x9f\x3e\x22" + bytes(range(40))
        body = multipart(
            "mixed",
            "MIX",
            b"Content-Type: text/plain\n\nSee attachment\n",
            b'Content-Type: application/ms-tnef; name="winmail.dat"\n'
            b"Content-Transfer-Encoding: base64\n\n" + base64.b64encode(tnef),
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert [(a.filename, a.content_type, a.payload) for a in parsed.attachments] == [
            ("winmail.dat", "application/ms-tnef", tnef)
        ]

    def test_multipart_signed_keeps_the_signature_as_an_attachment(self):
        body = multipart(
            "signed",
            "SIG",
            b"Content-Type: text/plain; charset=utf-8\n\nSigned text\n",
            b"Content-Type: application/pgp-signature; name=signature.asc\n\n-----BEGIN PGP SIGNATURE-----",
            headers="Content-Description: x",
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert parsed.text == "Signed text"
        assert [a.filename for a in parsed.attachments] == ["signature.asc"]

    def test_a_message_that_is_only_an_image(self):
        raw = mail(
            "From: a@b.bg\nContent-Type: image/jpeg; name=photo.jpg\nContent-Transfer-Encoding: base64",
            base64.b64encode(b"\xff\xd8\xff\xe0JFIF"),
        )

        parsed = parse_message(raw)

        assert parsed.text == ""
        assert [(a.filename, a.payload) for a in parsed.attachments] == [
            ("photo.jpg", b"\xff\xd8\xff\xe0JFIF")
        ]

    def test_multipart_without_a_boundary_is_read_as_text(self):
        parsed = parse_message(mail("From: a@b.bg\nContent-Type: multipart/mixed", "Just text"))

        assert parsed.text == "Just text"


class TestFilenames:
    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            ('Content-Disposition: attachment; filename="report.pdf"', "report.pdf"),
            ('Content-Type: application/pdf; name="from-type.pdf"', "from-type.pdf"),
            # RFC 2231 with a charset, and with continuations
            (
                "Content-Disposition: attachment; filename*=UTF-8''%D0%97%D0%B0%D1%8F%D0%B2%D0%BA%D0%B0.pdf",
                "Заявка.pdf",
            ),
            (
                "Content-Disposition: attachment;\n filename*0*=UTF-8''%D0%94%D0%B8;\n filename*1*=%D0%BF%D0%BB%D0%BE%D0%BC%D0%B0.pdf",
                "Диплома.pdf",
            ),
            (
                "Content-Disposition: attachment; filename*=\"us-ascii''W%F6lbung.jpg\"",
                "Wölbung.jpg",
            ),
            # RFC 2047 inside the quoted parameter (what Outlook and Gmail send)
            (
                'Content-Disposition: attachment; filename="=?utf-8?B?0JTQuNC/0LvQvtC80LAucGRm?="',
                "Диплома.pdf",
            ),
            (
                'Content-Type: image/jpg; name=" =?ISO-8859-1?B?QmVzdORsbHVuZw==?=.jpg"',
                "Beställung.jpg",
            ),
            # path components, control and bidi characters are removed
            ('Content-Disposition: attachment; filename="../../etc/passwd"', "passwd"),
            (
                'Content-Disposition: attachment; filename="C:\\\\Users\\\\x\\\\file.doc"',
                "file.doc",
            ),
            ('Content-Disposition: attachment; filename="evil\\u202egpj.exe"', "evilgpj.exe"),
            ('Content-Disposition: attachment; filename="tab\tname.txt"', "tab name.txt"),
            # no usable name: one is generated from the content type
            ("Content-Disposition: attachment", "attachment-1.pdf"),
            ('Content-Disposition: attachment; filename=".."', "attachment-1.pdf"),
        ],
    )
    def test_attachment_names(self, headers, expected):
        headers = headers.replace("\\u202e", "\u202e")
        part_headers = (
            "Content-Type: application/pdf\n" + headers
            if "Content-Type" not in headers
            else headers
        )
        body = multipart(
            "mixed",
            "MIX",
            b"Content-Type: text/plain\n\nx\n",
            part_headers.encode("utf-8") + b"\n\n%PDF-1.4",
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert [a.filename for a in parsed.attachments] == [expected]

    def test_raw_8bit_filename_uses_the_message_charset(self):
        body = multipart(
            "mixed",
            "MIX",
            b"Content-Type: text/plain; charset=iso-8859-1\n\nx\n",
            b'Content-Type: image/jpg\nContent-Disposition: attachment; filename="Hofj\xe4geralle.jpg"\n\nJPG',
        )

        parsed = parse_message(top("From: a@b.bg", body))

        assert [a.filename for a in parsed.attachments] == ["Hofjägeralle.jpg"]

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("report.pdf", "report.pdf"),
            ("/tmp/x/report.pdf", "report.pdf"),
            ("..\\..\\boot.ini", "boot.ini"),
            ("  spaced name.doc  ", "spaced name.doc"),
            ("a\x00b\x1fc.txt", "abc.txt"),
            ("...", ""),
            ("x" * 300 + ".pdf", "x" * 176 + ".pdf"),
        ],
    )
    def test_clean_filename(self, name, expected):
        assert clean_filename(name) == expected


class TestDamagedMessages:
    def test_junk_before_the_headers_is_skipped(self):
        raw = b"---- Original email message ----\nFrom: a@b.cz\nSubject: Contact\n\nBody"

        parsed = parse_message(raw)

        assert (parsed.from_addr, parsed.subject, parsed.text) == ("a@b.cz", "Contact", "Body")
        assert "junk before the headers skipped" in parsed.defects

    def test_an_mbox_from_line_is_skipped_silently(self):
        raw = b"From a@b.bg  Thu May  3 12:04:29 2012\nFrom: a@b.bg\nSubject: S\n\nBody"

        parsed = parse_message(raw)

        assert (parsed.from_addr, parsed.subject, parsed.defects) == ("a@b.bg", "S", [])

    def test_unindented_header_continuations_are_re_folded(self):
        raw = (
            b"Received: from mail.x.cz\nby mail.y.cz with ESMTP\nfor helpdesk@x.cz;\n"
            b"X-Tracker: H4sIAAAAAAAAA+NgFlrIKsWRWlGSWpSXmKPExsWi75nTrTtrwZM\n"
            + b"Ig5drOCwmrVzP5sDoseXbDeYAxijWzLyk/IoE1owFz6ezFkxKrWjafpWpgfFOchc\n" * 12
            + b"From: a@b.cz\nSubject: Still here\n\nBody"
        )

        parsed = parse_message(raw)

        assert (parsed.from_addr, parsed.subject, parsed.text) == ("a@b.cz", "Still here", "Body")
        assert "broken header lines re-folded" in parsed.defects

    def test_a_message_without_a_blank_line_after_the_headers(self):
        parsed = parse_message(b"From: a@b.bg\nSubject: S\nThis is the body\nwith two lines")

        assert parsed.subject == "S"
        assert "This is the body" in parsed.text

    def test_a_truncated_multipart_keeps_what_arrived(self):
        raw = top(
            "From: a@b.bg",
            b'Content-Type: multipart/mixed; boundary="X"\n\n--X\nContent-Type: text/plain\n\nFirst part\n--X\n'
            b"Content-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK",
        )

        parsed = parse_message(raw)

        assert parsed.text == "First part"
        assert [(a.filename, a.payload) for a in parsed.attachments] == [("a.pdf", b"%PDF-1.4\n")]

    def test_deep_nesting_does_not_raise(self):
        raw = b"From: a@b.bg\nSubject: deep\n" + b"".join(
            f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode()
            for i in range(600)
        )

        parsed = parse_message(raw)

        assert parsed.subject == "deep"
        assert parsed.defects

    @pytest.mark.parametrize("raw", [b"", b"\n\n\n", b"\x00\xff" * 10, b"no headers at all"])
    def test_nonsense_gives_an_empty_parsed_mail(self, raw):
        parsed = parse_message(raw)

        assert isinstance(parsed, ParsedMail)
        assert parsed.from_addr == ""


class TestReportsAndBounces:
    DSN = multipart(
        "report",
        "DSN",
        b"Content-Type: text/plain\n\nYour message could not be delivered.\n",
        b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.edu.mon.bg\n\n"
        b"Final-Recipient: rfc822; Gone@School.bg\nAction: failed\nStatus: 5.1.1\n\n"
        b"Final-Recipient: rfc822; slow@school.bg\nAction: delayed\nStatus: 4.4.1\n",
        b"Content-Type: message/rfc822\n\nFrom: helpdesk@edu.mon.bg\nTo: gone@school.bg\n"
        b"Subject: [HD#26-000123] Reply\nMessage-ID: <hd-reply-1@edu.mon.bg>\n\nOur reply\n",
    ).replace(b"multipart/report;", b"multipart/report; report-type=delivery-status;")

    def test_a_delivery_status_report(self):
        parsed = parse_message(
            top("From: MAILER-DAEMON@mx.edu.mon.bg\nSubject: Undelivered", self.DSN)
        )

        assert parsed.is_multipart_report is True
        assert parsed.report_type == "delivery-status"
        assert parsed.bounce_original_message_id == "hd-reply-1@edu.mon.bg"
        assert parsed.bounce_recipients == ["gone@school.bg"]
        assert parsed.dsn_actions == ["failed", "delayed"]
        assert parsed.text == "Your message could not be delivered."
        assert "Our reply" in parsed.quoted
        assert [a.filename for a in parsed.attachments] == [
            "delivery-status.txt",
            "[HD#26-000123] Reply.eml",
        ]

    def test_a_report_with_only_the_original_headers(self):
        body = multipart(
            "report",
            "DSN",
            b"Content-Type: text/plain\n\nfailed\n",
            b"Content-Type: text/rfc822-headers\n\nFrom: x@y.bg\nMessage-ID:\n <orig@edu.mon.bg>\n",
        )

        parsed = parse_message(top("From: postmaster@x.bg", body))

        assert parsed.bounce_original_message_id == "orig@edu.mon.bg"
        assert [a.filename for a in parsed.attachments] == ["original-headers.txt"]

    def test_a_classic_bounce_quotes_the_original_in_the_text(self):
        body = (
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered. The following address(es) failed:\n\n"
            "  gone@school.bg\n    SMTP error from remote mail server\n\n"
            "------ This is a copy of the message, including all the headers. ------\n"
            "Message-ID: <hd-7@edu.mon.bg>\nSubject: x\n"
        )
        raw = mail(
            "From: Mail Delivery System <Mailer-Daemon@mx.bg>\nSubject: Mail delivery failed", body
        )

        parsed = parse_message(raw)

        assert parsed.is_multipart_report is False
        assert parsed.bounce_original_message_id == "hd-7@edu.mon.bg"
        assert parsed.bounce_recipients == ["gone@school.bg"]

    def test_x_failed_recipients_names_the_recipients(self):
        raw = mail("From: mailer-daemon@mx.bg\nX-Failed-Recipients: a@b.bg, c@d.bg", "failed")

        assert parse_message(raw).bounce_recipients == ["a@b.bg", "c@d.bg"]

    def test_normal_mail_has_no_bounce_data(self):
        parsed = parse_message(mail(BASIC, "Message-ID: <not-a-bounce@x>"))

        assert parsed.bounce_original_message_id == ""
        assert parsed.bounce_recipients == []


class TestReplyText:
    def test_the_quoted_history_is_folded(self):
        body = (
            "Благодаря, вече работи.\n\n"
            "На вт, 1.12.2026 г. в 10:00 Helpdesk <helpdesk@edu.mon.bg> написа:\n"
            "> Опитайте отново.\n>\n> Поздрави\n"
        )

        parsed = parse_message(mail(BASIC, body))

        assert parsed.text == "Благодаря, вече работи."
        assert parsed.quoted.startswith("На вт, 1.12.2026 г.")
        assert parsed.full_text == body.strip()


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("Line 1<br>Line 2<br/>Line 3", "Line 1\nLine 2\nLine 3"),
        ("<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul>", "- a\n- b\n  - c"),
        ("<ol><li>first</li></ol>", "- first"),
        ('<a href="https://edu.mon.bg/x">the guide</a>', "the guide (https://edu.mon.bg/x)"),
        ('<a href="https://edu.mon.bg">https://edu.mon.bg</a>', "https://edu.mon.bg"),
        ('<a href="mailto:a@b.bg">a@b.bg</a>', "a@b.bg"),
        ('<a href="mailto:a@b.bg">write us</a>', "write us (a@b.bg)"),
        ("<style>p {color: red}</style><script>alert(1)</script><p>Visible</p>", "Visible"),
        ("<p>&lt;tag&gt; &amp; &quot;q&quot; &#1041;&#x434; &nbsp;x</p>", '<tag> & "q" Бд x'),
        ("<div>a</div><div>b</div>", "a\nb"),
        (
            "<table><tr><td>Име</td><td>Код</td></tr><tr><td>X</td><td>1</td></tr></table>",
            "Име Код\nX 1",
        ),
        (
            "<p>Reply</p><blockquote><p>quoted</p></blockquote><p>after</p>",
            "Reply\n\n> quoted\n\nafter",
        ),
        ("<pre>  keep\n    indent</pre>", "  keep\n    indent"),
        ("<html><head><title>T</title><body><p>unclosed head</p>", "unclosed head"),
        ("<p>spaces   and\n\nnewlines</p>", "spaces and newlines"),
        ("<!--[if mso]>hidden<![endif]--><p>shown</p>", "shown"),
        ("", ""),
        ("plain & simple", "plain & simple"),
    ],
)
def test_html_to_text(html, expected):
    assert html_to_text(html) == expected


def test_typical_messages_parse_fast():
    """A loose guard against accidental slowdowns (the target is thousands per second)."""
    import time

    body = (
        "Здравейте, не мога да вляза.\n" * 10
        + "\nНа 1.12.2026 Helpdesk написа:\n"
        + "> цитат\n" * 20
    )
    raw = mail(BASIC, body)

    started = time.process_time()
    for _ in range(200):
        parse_message(raw)

    assert time.process_time() - started < 1.0
