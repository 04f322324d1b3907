"""Run the parser over Zammad's public mail corpus and compare with Zammad's results.

The corpus (106 real-world messages with Zammad's expected values) lives
outside the project, in ../shared/corpus/zammad-mail; without it these tests
skip. Zammad's values are its own choices, so the comparison follows what a
user needs: the right sender, subject and every attachment with its real name
and bytes. Where we deliberately differ, the message and the reason are in
KNOWN_DIFFERENCES (and in docs/mail-corpus.md).

How attachments are compared:

- Zammad lists its HTML body as a pseudo-attachment ``message.html``
  (``content-alternative``); we keep the HTML in ``ParsedMail.html``, so
  those are skipped.
- Bytes must be equal, or equal after normalising line ends and trailing
  blanks: Zammad normalises the line ends of text-like parts, and attached
  messages (.eml, delivery reports) are re-serialised from the parsed tree.
- Where the message gives no file name, both sides invent one (Zammad
  "file", "image.jpg", the Content-Description; we "attachment-1.jpg",
  "delivery-status.txt"), so only given names are compared.
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

import pytest
import yaml

from mailbridge.parsing import ParsedMail, parse_message
from tests.testservers import require_service

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "zammad-mail"


@pytest.fixture(autouse=True)
def _corpus():
    # The corpus lies beside the project (../shared), as in CI; without it the
    # tests skip locally and fail under CI=true.
    if not CORPUS.is_dir():
        require_service("mail corpus", f"not found at {CORPUS} (not shipped with the project)")


# message -> {aspect: reason}; aspects: from, from_name, subject, attachments
KNOWN_DIFFERENCES: dict[str, dict[str, str]] = {
    "mail018": {
        "subject": "the subject is a UTF-7 encoded word; we decode it (Übermittlungsstatus), "
        "Zammad leaves '+ANw-bermittlungsstatus'",
    },
    "mail019": {
        "from_name": 'From has an empty address ("=?GB2312?B?ztI=?=" <>); we take the address '
        "from Reply-To and keep From's display name (我), Zammad drops the name",
    },
    "mail025": {
        "attachments": "the text body carries a uuencoded block (begin 644 rulesets-report.csv); "
        "we extract it as an attachment, Zammad leaves it in the body",
    },
    "mail035": {
        "from": 'From holds only a quoted address ("x@y"); we drop the quotes, Zammad keeps them',
    },
    "mail046": {
        "from_name": "raw 8-bit GB2312 display name; we decode it with the charset the message "
        "declares (武兰成), Zammad shows mojibake",
    },
    "mail062": {
        "attachments": "Apple Mail puts extra inline text/html parts into multipart/related; "
        "we treat them as body text, Zammad lists them as document.html attachments",
    },
    "mail064": {
        "attachments": "file name in windows-1258 with combining accents; we decode and "
        "NFC-normalise it (Capture d’écran … à …), Zammad keeps mojibake",
    },
    "mail065": {
        "from_name": "encoded word whose decoded text holds a comma (Bürling, Andreas); Zammad "
        "decodes before splitting addresses and gets '=20Andreas?=', we never decode before "
        "parsing (the same rule that stops encoded-word spoofing in From)",
    },
    "mail073": {
        "attachments": "RFC 2231 file name labelled us-ascii with a Latin-1 byte; we recover "
        "'Wölbung', Zammad inserts a replacement character",
    },
    "mail076": {
        "from": 'broken From: "Name"@example.com>; we drop the stray ">", Zammad keeps it',
        "from_name": "the same broken From has no display name; Zammad invents one from the "
        "address",
    },
    "mail085": {
        "attachments": "the HTML alternative is multipart/mixed with two text/html parts; we "
        "join them as the HTML body, Zammad lists the second as document.html",
    },
    "mail087": {
        "from": "From: Test test@example.com (no angle brackets); we take the address "
        "test@example.com and the name Test, Zammad takes the whole value for both",
        "from_name": "see from",
        "attachments": "an unnamed inline text/plain part after a PDF is body text for us, an "
        "attachment called 'file' for Zammad",
    },
    "mail102": {
        "attachments": "two images with the same file name; we keep the name, Zammad makes it "
        "unique ('… at 091.00.38.png'); uniqueness is the storage layer's concern",
    },
}

_GENERATED_NAME = re.compile(
    r"attachment-\d+\.\w+|delivery-status\.txt|original-headers\.txt|disposition-notification\.txt"
)


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10x faster


class _RubyTaggedLoader(_SafeLoader):
    """A safe loader that reads Ruby-tagged YAML as plain data."""


def _construct_unknown(loader, _suffix: str, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_RubyTaggedLoader.add_constructor(
    "!binary", lambda loader, node: base64.b64decode(loader.construct_scalar(node))
)
_RubyTaggedLoader.add_multi_constructor("!", _construct_unknown)


def _messages() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(path.stem for path in CORPUS.glob("*.box"))


@functools.cache
def _parsed(name: str) -> ParsedMail:
    return parse_message((CORPUS / f"{name}.box").read_bytes())


@functools.cache
def _expected(name: str) -> dict:
    text = (CORPUS / f"{name}.yml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=_RubyTaggedLoader)  # a SafeLoader subclass


def _known(name: str, aspect: str) -> bool:
    return aspect in KNOWN_DIFFERENCES.get(name, {})


def _spaces(text: str | None) -> str:
    return " ".join((text or "").split())


# What our parser gives where it differs from Zammad on purpose (the reasons
# are in KNOWN_DIFFERENCES): the intended value is asserted, never skipped.
OURS: dict[str, dict[str, object]] = {
    "mail018": {"subject": "Benachrichtung zum Übermittlungsstatus (Fehlgeschlagen)"},
    "mail019": {"from_name": "我"},
    "mail025": {"attachments": ["rulesets-report.csv"]},
    "mail035": {"from": "finances8@firstfinanceloanfirm.example.com"},
    "mail046": {"from_name": "武兰成"},
    "mail062": {
        "attachments": [
            "image001.jpg",
            "image000.jpg",
            "Video1.MOV",
            "Video2.MOV",
            "Video3.MOV",
            "attachment-1.mov",
            "attachment-2.mov",
        ]
    },
    "mail064": {"attachments": ["Capture d’écran 2017-12-27 à 12.22.38.jpg"]},
    "mail065": {"from_name": "Bürling, Andreas"},
    "mail073": {
        "attachments": ["Bestellbestätigung_BK18052795.jpg", "Forex Platte ohne Wölbung.jpg"]
    },
    "mail076": {"from": '"millions lottery spain transfer"@example.com', "from_name": ""},
    "mail085": {"attachments": []},
    "mail087": {"from": "test@example.com", "from_name": "Test", "attachments": ["fax_1234.pdf"]},
    "mail102": {
        "attachments": [
            "Screen Shot 2018-12-17 at 09.00.38.png",
            "documentation-todo.pdf",
            "Screen Shot 2018-12-17 at 09.00.38.png",
        ]
    },
}


def _normalised(data: bytes) -> bytes:
    return re.sub(rb"[ \t]*\r?\n", b"\n", data).strip()


def _data(attachment: dict) -> bytes:
    data = attachment.get("data") or b""
    return data.encode("utf-8") if isinstance(data, str) else data


def test_the_corpus_is_complete():
    assert len(_messages()) == 106


@pytest.mark.parametrize("name", _messages())
def test_every_message_parses(name):
    parsed = _parsed(name)

    assert isinstance(parsed, ParsedMail)
    assert len(parsed.raw_digest) == 64


@pytest.mark.parametrize("name", _messages())
def test_sender(name):
    expected, parsed = _expected(name), _parsed(name)

    if _known(name, "from"):
        assert parsed.from_addr == OURS[name]["from"]
    else:
        assert parsed.from_addr == (expected.get("from_email") or "").lower()
    if _known(name, "from_name"):
        assert _spaces(parsed.from_name) == OURS[name]["from_name"]
    else:
        assert _spaces(parsed.from_name) == _spaces(expected.get("from_display_name"))


@pytest.mark.parametrize("name", _messages())
def test_subject(name):
    subject = _spaces(_parsed(name).subject)
    if _known(name, "subject"):
        assert subject == OURS[name]["subject"]
    else:
        assert subject == _spaces(_expected(name).get("subject"))


@pytest.mark.parametrize("name", _messages())
def test_attachments(name):
    if _known(name, "attachments"):
        assert [a.filename for a in _parsed(name).attachments] == OURS[name]["attachments"]
        return
    expected = [
        attachment
        for attachment in _expected(name).get("attachments") or []
        if not (attachment.get("preferences") or {}).get("content-alternative")
    ]
    remaining = list(_parsed(name).attachments)

    for attachment in expected:
        data = _data(attachment)
        match = next((ours for ours in remaining if ours.payload == data), None)
        if match is None:
            match = next(
                (ours for ours in remaining if _normalised(ours.payload) == _normalised(data)),
                None,
            )
        assert match is not None, f"no attachment with the bytes of {attachment['filename']!r}"
        if not _GENERATED_NAME.fullmatch(match.filename):
            assert match.filename == attachment["filename"]
        remaining.remove(match)

    assert remaining == [], "attachments Zammad did not find"


def test_every_message_with_visible_text_has_readable_text():
    silent = []
    for name in _messages():
        body = (_expected(name).get("body") or "").strip()
        visible = body and body != "no visible content" and name not in KNOWN_DIFFERENCES
        if visible and not _parsed(name).full_text.strip():
            silent.append(name)

    assert silent == []


def test_known_differences_name_real_messages():
    assert set(KNOWN_DIFFERENCES) <= set(_messages())
    assert {(n, f) for n, fields in KNOWN_DIFFERENCES.items() for f in fields} == {
        (n, f) for n, fields in OURS.items() for f in fields
    }
