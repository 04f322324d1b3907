"""Turn raw e-mail bytes into a plain ``ParsedMail``.

``parse_message`` never raises: whatever arrives from a mailbox (broken MIME,
wrong or missing charsets, junk before the headers, truncated transfers) is
parsed as far as it goes, and every problem is noted in ``ParsedMail.defects``.

Hostile structure is bounded: at most ``MAX_PARTS`` MIME parts are read and
``MAX_ATTACHMENTS`` attachments kept (``ParsedMail.omitted_parts`` and
``omitted_attachments`` count the rest, which stays in the raw message); a
message whose MIME structure the ``email`` package cannot build at all (say
1,000 nested multiparts) comes back with its headers, its raw body as text
and ``structure_unreadable`` set, for the caller to quarantine. The HTML body
is sanitised once, here, in time linear in its length (``safe_html``).

The MIME tree comes from the standard ``email`` package with the ``compat32``
policy. ``email.policy.default`` was measured six times slower on a typical
message (its header objects are parsed on every access) and raises on some
broken headers, so header values and parameters are read raw and decoded
here, tolerantly: RFC 2047 words (also broken and mixed ones), RFC 2231
parameters, raw 8-bit text in any charset, and addresses parsed from the
undecoded header so that an encoded word can never turn into an address.
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import html as html_lib
import mimetypes
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import unquote, unquote_to_bytes

from helpdesk.sanitize import clean_html
from mailbridge.htmltext import html_to_text
from mailbridge.quotes import split_reply

__all__ = [
    "MAX_ATTACHMENTS",
    "MAX_PARTS",
    "MAX_SAFE_HTML_CHARS",
    "ParsedAttachment",
    "ParsedMail",
    "clean_filename",
    "decode_bytes",
    "decode_header_value",
    "looks_like_bounce_sender",
    "parse_addresses",
    "parse_message",
]

# Deeper MIME nesting than this is an attack or a mail loop, not a message.
_MAX_DEPTH = 40
# MIME parts read (containers included) and attachments kept per message,
# attached messages included; the rest is counted and stays in the raw mail.
MAX_PARTS = 200
MAX_ATTACHMENTS = 50
# Longer HTML bodies are not sanitised for display (the text is kept).
MAX_SAFE_HTML_CHARS = 1_000_000
_MAX_REFERENCES = 200

_COMPAT32 = email_policy.compat32
# Re-serialising an attached message must not re-fold its headers, and keeps
# the line ends the message arrived with.
_SERIALIZE_POLICIES = {
    "\n": email_policy.compat32.clone(max_line_length=None),
    "\r\n": email_policy.compat32.clone(max_line_length=None, linesep="\r\n"),
}


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    payload: bytes
    content_id: str = ""
    inline: bool = False

    @property
    def size(self) -> int:
        return len(self.payload)


@dataclass
class ParsedMail:
    """What a message says, decoded.

    ``html`` is the HTML body as received (for quote detection and ``cid:``
    references); ``safe_html`` is that body passed once through
    ``helpdesk.sanitize.clean_html``, ready to store and show ("" when there
    is no HTML body, or when it is longer than ``MAX_SAFE_HTML_CHARS``).

    ``structure_unreadable`` is True when the MIME structure could not be
    parsed at all: only the headers and the raw body (as ``text``) are
    there, and the message should be quarantined rather than filed.
    ``omitted_parts`` counts MIME parts never read (beyond ``MAX_PARTS``, or
    nested too deep); ``omitted_attachments`` counts attachments found but
    not kept (beyond ``MAX_ATTACHMENTS``). Both stay in the raw message.
    """

    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    from_addr: str = ""
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: str = ""
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    quoted: str = ""
    full_text: str = ""
    html: str = ""
    safe_html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    is_multipart_report: bool = False
    report_type: str = ""
    bounce_original_message_id: str = ""
    bounce_recipients: list[str] = field(default_factory=list)
    dsn_actions: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    raw_digest: str = ""
    structure_unreadable: bool = False
    omitted_parts: int = 0
    omitted_attachments: int = 0


# ---------------------------------------------------------------------------
# Charsets

_CHARSET_ALIASES = {
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "unicode-2-0-utf-7": "utf-7",
    "x-unicode-2-0-utf-7": "utf-7",
    "utf7": "utf-7",
    "gb2312": "gb18030",
    "iso-gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    # Mailers say ISO-8859-1 and mean windows-1252 (curly quotes, euro sign).
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-cp1251": "cp1251",
    "win-1251": "cp1251",
    "cp-1251": "cp1251",
}

# Labels that declare nothing useful about the bytes.
_NO_CHARSET = frozenset(
    {
        "",
        "us-ascii",
        "ascii",
        "ansi_x3.4-1968",
        "unknown-8bit",
        "unknown",
        "x-unknown",
        "default",
        "x-user-defined",
        "charset",
        "8bit",
        "7bit",
        "binary",
        "none",
        "auto",
    }
)

# Codecs that only ever see 7-bit bytes: 8-bit input means the label is wrong.
_SEVEN_BIT_CODECS = frozenset(
    {
        "utf-7",
        "iso2022_jp",
        "iso2022_jp_1",
        "iso2022_jp_2",
        "iso2022_jp_3",
        "iso2022_jp_ext",
        "iso2022_jp_2004",
        "iso2022_kr",
        "hz",
    }
)

# Codecs that reject most text in another charset, so they can be tried first.
_MULTIBYTE_CODECS = _SEVEN_BIT_CODECS | frozenset(
    {"gb18030", "big5hkscs", "cp932", "euc_jp", "cp949", "cp950", "big5", "gbk", "shift_jis"}
)

# What to try when a declared charset fails on the bytes.
_CHARSET_FAMILY = {
    "iso2022_jp": ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004"),
    "cp932": ("euc_jp",),
    "euc_jp": ("cp932",),
    "gb18030": ("big5hkscs",),
    "big5hkscs": ("gb18030",),
    "cp1252": ("latin-1",),
}
_JAPANESE_CODECS = frozenset({"iso2022_jp", "cp932", "euc_jp"})

_MIXED_SCRIPT = re.compile(r"[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]")


@lru_cache(maxsize=256)
def _codec(charset: str | None) -> str | None:
    """Return the Python codec name for a MIME charset label, or None."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").strip().lower()
    name = name.split("*", 1)[0]
    if name.startswith("3d"):  # "charset=3Dutf-8": quoted-printable applied twice
        name = name[2:]
    if len(name) > 40 or name in _NO_CHARSET:
        return None
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name == "ascii":
        return None
    return info.name


def _iso2022jp_via_cp932(data: bytes) -> str:
    """Decode ISO-2022-JP with Microsoft's extensions (circled digits, NEC rows).

    Python's iso2022 codecs reject them; rewriting the JIS bytes to
    Shift_JIS lets the cp932 codec read them.
    """
    out = bytearray()
    mode = "ascii"
    index = 0
    length = len(data)
    while index < length:
        byte = data[index]
        if byte == 0x1B and index + 2 < length:
            sequence = data[index + 1 : index + 3]
            if sequence in (b"$B", b"$@"):
                mode, index = "jis", index + 3
                continue
            if sequence in (b"(B", b"(J"):
                mode, index = "ascii", index + 3
                continue
            if sequence == b"(I":
                mode, index = "kana", index + 3
                continue
        if mode == "jis" and 0x21 <= byte <= 0x7E and index + 1 < length:
            second = data[index + 1]
            lead = ((byte - 0x21) >> 1) + 0x81
            if lead > 0x9F:
                lead += 0x40
            if byte & 1:
                trail = second + 0x1F
                if trail >= 0x7F:
                    trail += 1
            else:
                trail = second + 0x7E
            out += bytes((lead, trail & 0xFF))
            index += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        index += 1
    return bytes(out).decode("cp932", "replace")


def _guess_decode(data: bytes, hints: Iterable[str] = ()) -> str:
    if data.isascii():
        if b"\x1b$" in data:  # undeclared ISO-2022-JP
            try:
                return data.decode("iso2022_jp")
            except UnicodeDecodeError:
                return _iso2022jp_via_cp932(data)
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codecs_to_try = [codec for codec in map(_codec, hints) if codec and codec != "utf-8"]
    # Multi-byte charsets reject foreign text; single-byte ones accept anything.
    codecs_to_try.sort(key=lambda codec: codec not in _MULTIBYTE_CODECS)
    for codec in codecs_to_try:
        if codec in _SEVEN_BIT_CODECS:
            # Japanese mailers label the body ISO-2022-JP and put raw
            # Shift_JIS into headers and file names.
            candidates: tuple[str, ...] = ("cp932", "euc_jp") if "jp" in codec else ()
        else:
            candidates = (codec,)
        for candidate in candidates:
            try:
                return data.decode(candidate)
            except UnicodeDecodeError:
                continue
    try:
        text = data.decode("cp1251")
    except UnicodeDecodeError:
        text = ""
    # Cyrillic letters glued to Latin ones ("Wцlbung") mean a Western text.
    if text and not _MIXED_SCRIPT.search(text):
        return text
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_bytes(data: bytes, charset: str | None = None, hints: Iterable[str] = ()) -> str:
    """Return ``data`` decoded with the declared ``charset``, or a good guess.

    Valid UTF-8 wins over a wrong label; a missing, unknown or failing label
    falls back to related charsets, the charsets in ``hints`` (declared
    elsewhere in the message), windows-1251 and finally windows-1252/latin-1.
    Never raises.
    """
    if not data:
        return ""
    codec = _codec(charset)
    if codec is None:
        return _guess_decode(data, hints)
    ascii_only = data.isascii()
    if not ascii_only and codec != "utf-8":
        # Mislabelled UTF-8 is the most common charset error; UTF-8 is also
        # self-checking, so a text in any other charset almost never passes.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        if codec in _SEVEN_BIT_CODECS:
            codec = "cp932" if codec.startswith("iso2022_jp") else None
            if codec is None:
                return _guess_decode(data, hints)
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        pass
    except Exception:  # a broken codec must not stop the parse
        return _guess_decode(data, hints)
    if codec == "utf-8":
        # A truncated transfer or a stray byte: keep the text, mark the damage.
        text = data.decode("utf-8", "replace")
        if text.count("\ufffd") <= max(1, len(text) // 200):
            return text
        return _guess_decode(data, hints)
    for alternative in _CHARSET_FAMILY.get(codec, ()):
        try:
            return data.decode(alternative)
        except UnicodeDecodeError:
            continue
    if codec in _JAPANESE_CODECS and ascii_only:
        return _iso2022jp_via_cp932(data)
    return data.decode(codec, "replace")


class _Hints:
    """Charsets declared anywhere in a message, found on first use.

    Multi-byte charsets come first: they reject text in another charset,
    while a single-byte one accepts anything.
    """

    def __init__(self, message: Message | None) -> None:
        self._message = message
        self._values: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._values is None:
            self._values = _declared_charsets(self._message) if self._message is not None else []
        return iter(self._values)


def _declared_charsets(message: Message) -> list[str]:
    found: list[str] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    while stack and len(found) < 10:
        part, depth = stack.pop()
        charset = _parse_params(_first_header(part, "content-type"))[1].get("charset")
        if isinstance(charset, str) and _codec(charset) and charset.lower() not in found:
            found.append(charset.lower())
        payload = getattr(part, "_payload", None)
        if isinstance(payload, list) and depth < _MAX_DEPTH:
            stack.extend(
                (child, depth + 1) for child in reversed(payload) if isinstance(child, Message)
            )
    return sorted(found, key=lambda name: _codec(name) not in _MULTIBYTE_CODECS)


# ---------------------------------------------------------------------------
# Header values

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_NON_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _to_bytes(text: str) -> bytes:
    """Return the original bytes of a raw header or payload string.

    The parser reads bytes as ASCII and keeps every 8-bit byte as a lone
    surrogate; this undoes that.
    """
    return text.encode("utf-8", "surrogateescape")


def _lenient_b64decode(data: bytes) -> bytes:
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        pass
    cleaned = _NON_BASE64.sub(b"", data)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except (binascii.Error, ValueError):
        return b""


def _decode_raw_text(text: str, hints: Iterable[str]) -> str:
    if text.isascii():
        return text
    return _guess_decode(_to_bytes(text), hints)


def _decode_encoded_words(value: str, hints: Iterable[str]) -> str:
    out: list[str] = []
    pending_charset: str | None = None
    pending = bytearray()
    position = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            out.append(decode_bytes(bytes(pending), pending_charset, hints))
            pending.clear()
            pending_charset = None

    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        # Whitespace between two encoded words is not part of the text.
        if pending_charset is None or gap.strip():
            flush()
            out.append(_decode_raw_text(gap, hints))
        charset = match.group(1).split("*", 1)[0]
        payload = _to_bytes(match.group(3))
        if match.group(2) in "bB":
            data = _lenient_b64decode(payload)
        else:
            data = binascii.a2b_qp(payload, header=True)
        # Multi-byte characters are often split over adjacent words.
        if pending_charset is not None and pending_charset.lower() != charset.lower():
            flush()
        pending_charset = charset
        pending.extend(data)
        position = match.end()
    flush()
    out.append(_decode_raw_text(value[position:], hints))
    return "".join(out)


def decode_header_value(raw: str, hints: Iterable[str] = ()) -> str:
    """Return a raw header value unfolded and decoded to text.

    Handles RFC 2047 encoded words (adjacent, split, mislabelled or broken),
    raw 8-bit bytes (guessed with ``hints``, the charsets the message
    declares) and control characters (replaced by spaces).
    """
    if not raw:
        return ""
    value = _FOLD.sub("", raw) if "\n" in raw else raw
    if "=?" in value:
        value = _decode_encoded_words(value, hints)
    else:
        value = _decode_raw_text(value, hints)
    return _HEADER_CONTROL.sub(" ", value)


def _first_header(message: Message, name: str) -> str:
    """Return the raw value of the first ``name`` header ("" if absent).

    ``Message.get`` would turn 8-bit values into replacement characters.
    """
    for key, value in message.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


# ---------------------------------------------------------------------------
# MIME parameters (RFC 2045, RFC 2231)

_EXTENDED_PARAMETER = re.compile(r"([^*]+)\*(?:(\d{1,3})(\*)?)?$")


def _split_parameters(value: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    index = 0
    in_quote = False
    length = len(value)
    while index < length:
        char = value[index]
        if in_quote:
            if char == "\\":
                index += 2
                continue
            if char == '"':
                in_quote = False
        elif char == '"':
            in_quote = True
        elif char == ";":
            pieces.append(value[start:index])
            start = index + 1
        index += 1
    pieces.append(value[start:])
    return pieces


def _unquote_parameter(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value.strip('"')


def _parse_params(raw: str) -> tuple[str, dict[str, str | tuple[str, bytes]]]:
    """Return (lower-cased main value, parameters) of a raw structured header.

    RFC 2231 parameters (``name*=charset''%XX``, continuations ``name*0*``)
    come back as ``(charset, bytes)``; plain ones as raw strings that may
    still hold encoded words or 8-bit bytes.
    """
    if not raw:
        return "", {}
    value = _FOLD.sub("", raw) if "\n" in raw else raw
    pieces = _split_parameters(value)
    main = pieces[0].strip().lower()
    params: dict[str, str | tuple[str, bytes]] = {}
    extended: dict[str, list[tuple[int, bool, str]]] = {}
    for piece in pieces[1:]:
        name, separator, text = piece.partition("=")
        name = name.strip().lower()
        if not separator or not name:
            continue
        match = _EXTENDED_PARAMETER.match(name)
        if match:
            encoded = match.group(2) is None or match.group(3) is not None
            position = int(match.group(2) or 0)
            extended.setdefault(match.group(1).strip(), []).append(
                (position, encoded, _unquote_parameter(text))
            )
        else:
            params.setdefault(name, _unquote_parameter(text))
    for name, sections in extended.items():
        sections.sort(key=lambda section: section[0])
        charset = ""
        data = bytearray()
        for number, (_position, encoded, text) in enumerate(sections):
            if encoded:
                if number == 0 and text.count("'") >= 2:
                    charset, _language, text = text.split("'", 2)
                data += unquote_to_bytes(_to_bytes(text))
            else:
                data += _to_bytes(text)
        params[name] = (charset, bytes(data))
    return main, params


def _parameter_text(value: str | tuple[str, bytes] | None, hints: Iterable[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, tuple):
        return decode_bytes(value[1], value[0] or None, hints)
    return decode_header_value(value, hints)


# ---------------------------------------------------------------------------
# Addresses

_ADDRESS_TOKEN = re.compile(r'(?:"[^"\r\n]{0,200}"|[^\s"<>()@,;]{1,200})@[^\s"<>()@,;]{1,255}')
_ADDRESS_STOP = frozenset(' \t\r\n"<>()@,;')
_GROUP_PREFIX = re.compile(r'\s*[^"<>@(),:;]{0,200}:(?!:)')
_NAME_JUNK = " \t\"'<>,;"


def _split_top_level(value: str, honour_quotes: bool = True) -> tuple[list[str], bool]:
    """Split an address list at top-level commas; return (parts, balanced)."""
    parts: list[str] = []
    start = 0
    index = 0
    length = len(value)
    in_quote = False
    comment = 0
    in_angle = False
    while index < length:
        char = value[index]
        if in_quote:
            if char == "\\":
                index += 2
                continue
            if char == '"':
                in_quote = False
        elif comment:
            if char == "\\":
                index += 2
                continue
            if char == "(":
                comment += 1
            elif char == ")":
                comment -= 1
        elif char == '"' and honour_quotes:
            in_quote = True
        elif char == "(":
            comment = 1
        elif char == "<":
            in_angle = True
        elif char == ">":
            in_angle = False
        elif char == "=" and value.startswith("=?", index):
            # An encoded word may hide a comma; it is one token.
            match = _ENCODED_WORD.match(value, index)
            if match:
                index = match.end()
                continue
        elif char in ",;" and not in_angle:
            parts.append(value[start:index])
            start = index + 1
        index += 1
    parts.append(value[start:])
    return parts, not in_quote and not comment


def _find_address(text: str) -> tuple[int, int] | None:
    """Return (start, end) of the first "local@domain" token in ``text``.

    Scans outwards from each "@" instead of trying a pattern at every
    position, which stays linear on long hostile headers.
    """
    at = text.find("@")
    while at >= 0:
        start = at
        if at > 0 and text[at - 1] == '"':  # quoted local part: "john smith"@host
            quote = text.rfind('"', max(0, at - 202), at - 1)
            start = quote if quote >= 0 else at
        else:
            while start > 0 and at - start < 200 and text[start - 1] not in _ADDRESS_STOP:
                start -= 1
        end = at + 1
        while end < len(text) and end - at <= 255 and text[end] not in _ADDRESS_STOP:
            end += 1
        if start < at and end > at + 1:
            return start, end
        at = text.find("@", at + 1)
    return None


def _strip_comments(text: str) -> tuple[str, str]:
    """Return (text without top-level comments, first comment's content)."""
    out: list[str] = []
    first = ""
    depth = 0
    current: list[str] = []
    in_quote = False
    for char in text:
        if depth == 0:
            if char == '"':
                in_quote = not in_quote
            if char == "(" and not in_quote:
                depth = 1
                current = []
                continue
            out.append(char)
        else:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    if not first:
                        first = "".join(current).strip()
                    continue
            current.append(char)
    return "".join(out), first


def _unquote_name(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        return re.sub(r"\\(.)", r"\1", name[1:-1])
    return name.replace('"', "")


def _parse_mailbox(text: str, hints: Iterable[str]) -> tuple[str, str] | None:
    text = text.strip()
    if not text:
        return None
    group = _GROUP_PREFIX.match(text)
    if group and "@" not in group.group(0) and "=?" not in group.group(0):
        text = text[group.end() :].strip()
        if not text:
            return None
    lt = -1
    in_quote = False
    for index, char in enumerate(text):
        if char == '"':
            in_quote = not in_quote
        elif char == "<" and not in_quote:
            lt = index
    comment = ""
    if lt >= 0:
        gt = text.find(">", lt)
        address = text[lt + 1 : gt if gt >= 0 else len(text)]
        name = text[:lt]
        if gt >= 0:
            _rest, comment = _strip_comments(text[gt + 1 :])
        if not name.strip():
            name = comment
    else:
        rest, comment = _strip_comments(text)
        found = _find_address(rest)
        if found:
            address = rest[found[0] : found[1]]
            name = comment or (rest[: found[0]] + rest[found[1] :])
        elif _ADDRESS_TOKEN.fullmatch(comment.strip()):
            address, name = comment.strip(), rest  # "Name (user@host)"
        else:
            address, name = rest, comment
    address = address.strip().strip("<>").strip()
    if address.startswith("@") and ":" in address:  # obsolete source route
        address = address.split(":", 1)[1]
    if len(address) >= 2 and address[0] == '"' and address[-1] == '"' and "@" in address:
        address = address[1:-1]
    if address.startswith("=?"):  # never take an address out of an encoded word
        address, name = "", (name if name.strip() else address)
    address = _HEADER_CONTROL.sub(" ", _decode_raw_text(address, hints)).strip().lower()
    name_without_comments, name_comment = _strip_comments(name)
    name = name_without_comments if name_without_comments.strip() else name_comment
    display = decode_header_value(_unquote_name(name.strip()), hints).strip(_NAME_JUNK)
    if not address and not display:
        return None
    return display, address


def parse_addresses(raw: str, hints: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Return ``(display_name, address)`` pairs from a raw address header.

    The address is lower-cased and taken from the undecoded header, so an
    encoded word in the display name can never become (or hide) an address.
    Entries without an address keep their name with an empty address.
    """
    if not raw:
        return []
    value = _FOLD.sub("", raw).replace("\r", " ").replace("\n", " ")
    parts, balanced = _split_top_level(value)
    if not balanced:
        parts, _ = _split_top_level(value, honour_quotes=False)
    result = []
    for part in parts:
        mailbox = _parse_mailbox(part, hints)
        if mailbox is not None:
            result.append(mailbox)
    return result


_MESSAGE_ID = re.compile(r"<([^<>\s]{1,998})>")


def _message_ids(raw: str) -> list[str]:
    value = _FOLD.sub("", raw)
    ids = _MESSAGE_ID.findall(value)
    if not ids:
        ids = [token.strip("<>") for token in value.split() if token.strip("<>")]
    return list(dict.fromkeys(ids))


# ---------------------------------------------------------------------------
# Raw message repair

_HEADER_LINE = re.compile(rb"[!-9;-~]{1,200}[ \t]*:")
_FIRST_HEADER_LINE = re.compile(rb"[A-Za-z][A-Za-z0-9_-]{0,100}[ \t]*:")
_MAX_STRAY_LINES = 8
_MAX_STRAY_TOKEN_LINES = 200


def _header_block_end(raw: bytes) -> int:
    if raw.startswith((b"\n", b"\r\n")):
        return 0
    ends = [pos for pos in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if pos >= 0]
    return min(ends) + 1 if ends else len(raw)


def _repair_head(raw: bytes, defects: list[str]) -> bytes:
    """Drop junk before the headers and re-attach stray header lines."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if raw.startswith(b"From "):  # mbox separator line
        newline = raw.find(b"\n")
        raw = raw[newline + 1 :] if newline >= 0 else b""
    if raw and not _FIRST_HEADER_LINE.match(raw):
        position = 0
        for _ in range(20):
            newline = raw.find(b"\n", position)
            if newline < 0:
                break
            position = newline + 1
            if _FIRST_HEADER_LINE.match(raw, position):
                defects.append("junk before the headers skipped")
                raw = raw[position:]
                break

    end = _header_block_end(raw)
    lines = raw[:end].split(b"\n")
    is_header = [bool(_HEADER_LINE.match(line)) for line in lines]
    repaired = False
    index = 1
    while index < len(lines):
        line = lines[index]
        if is_header[index] or not line.strip(b"\r") or line[:1] in (b" ", b"\t"):
            index += 1
            continue
        # A line that is neither a header nor a continuation: a header folded
        # without indentation when more headers follow soon (long runs only
        # of space-free tokens, like a wrapped base64 value), else the body.
        following = None
        for j in range(index + 1, min(index + _MAX_STRAY_TOKEN_LINES, len(lines))):
            if is_header[j]:
                following = j
                break
            if j - index >= _MAX_STRAY_LINES and b" " in lines[j].strip():
                break
        if following is None:
            break
        if following - index > _MAX_STRAY_LINES and any(
            b" " in lines[j].strip() for j in range(index, following)
        ):
            break
        for j in range(index, following):
            lines[j] = b" " + lines[j]
        repaired = True
        index = following
    if repaired:
        defects.append("broken header lines re-folded")
        raw = b"\n".join(lines) + raw[end:]
    return raw


# ---------------------------------------------------------------------------
# Bodies

_UU_ENCODINGS = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_CTE_ALIASES = {
    "base-64": "base64",
    "b64": "base64",
    "qp": "quoted-printable",
    "quoted_printable": "quoted-printable",
    "quotedprintable": "quoted-printable",
    "7-bit": "7bit",
    "8-bit": "8bit",
}
_IDENTITY_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")
_META_CHARSET = re.compile(rb"<meta[^>]{0,300}?charset\s*=\s*[\"']?([A-Za-z0-9_.:-]{1,40})", re.I)
_UU_BEGIN = re.compile(r"^begin [0-7]{3,4} ([^\r\n]+)$", re.M)
_UU_END = re.compile(r"^end[ \t]*$", re.M)


def _uudecode(data: bytes, strict: bool = False) -> tuple[bytes, str] | None:
    """Return (bytes, name from the begin line) of uuencoded ``data``.

    Tolerates a missing begin or end line. With ``strict`` an undecodable
    line makes it return None instead of skipping the line.
    """
    out: list[bytes] = []
    name = ""
    for line in data.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(b"begin ") and not out:
            parts = stripped.split(None, 2)
            if len(parts) == 3:
                name = parts[2].decode("utf-8", "replace")
            continue
        if stripped == b"end":
            break
        line = line.rstrip(b"\r\n")
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            # Some encoders pad lines with garbage; cut to the declared length.
            length = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out.append(binascii.a2b_uu(line[:length]))
            except binascii.Error:
                if strict:
                    return None
    return b"".join(out), name


def _unflow(text: str, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676)."""
    out: list[str] = []
    buffer: str | None = None
    buffer_depth = 0

    def flush() -> None:
        nonlocal buffer
        if buffer is not None:
            out.append((">" * buffer_depth + " " if buffer_depth else "") + buffer)
            buffer = None

    for line in text.split("\n"):
        if line == "-- ":
            flush()
            out.append(line)
            continue
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]
        if buffer is not None and depth == buffer_depth:
            buffer += content
        else:
            flush()
            buffer = content
            buffer_depth = depth
        if content.endswith(" "):
            if delsp:
                buffer = buffer[:-1]
        else:
            flush()
    flush()
    return "\n".join(out)


def _clean_text(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _TEXT_CONTROL.sub("", text)


def _raw_payload(part: Message) -> bytes:
    """Return a leaf's body bytes exactly as received (still transfer-encoded).

    ``Message.get_payload()`` re-decodes 8-bit text with the declared
    charset and replaces what does not fit, so the stored value is read.
    """
    payload = getattr(part, "_payload", None)
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    return str(payload).encode("utf-8", "surrogateescape")


def _decode_transfer(raw: bytes, encoding: str, defects: list[str]) -> bytes:
    if encoding == "base64":
        return _lenient_b64decode(raw)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(raw)
    if encoding in _UU_ENCODINGS:
        decoded = _uudecode(raw)
        return decoded[0] if decoded else raw
    if encoding not in _IDENTITY_ENCODINGS:
        _note(defects, f"unknown Content-Transfer-Encoding {encoding[:40]!r}; body kept as is")
    return raw


def _note(defects: list[str], text: str) -> None:
    if text not in defects:
        defects.append(text)


# ---------------------------------------------------------------------------
# Attachments

_EXTENSIONS = {
    "application/octet-stream": ".bin",
    "application/pdf": ".pdf",
    "application/ms-tnef": ".dat",
    "application/vnd.ms-tnef": ".dat",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/pgp-keys": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
}
_FILENAME_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_MAX_FILENAME = 180
# Outlook names inline images "image001.png@01D2...": the part before "@" is a file name.
_CONTENT_ID_FILENAME = re.compile(r"([\w\-. ]{1,100}\.[A-Za-z0-9]{2,5})@")


@lru_cache(maxsize=256)
def _extension_for(content_type: str) -> str:
    extension = _EXTENSIONS.get(content_type)
    if extension is None:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return extension


def clean_filename(name: str) -> str:
    """Return ``name`` without path components and control characters ("" if nothing is left)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        char for char in name if unicodedata.category(char) not in _FILENAME_DROP_CATEGORIES
    )
    name = unicodedata.normalize("NFC", name).strip().strip(".").strip()
    if len(name) > _MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: _MAX_FILENAME - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:_MAX_FILENAME]
    return name


# ---------------------------------------------------------------------------
# The MIME walk


@dataclass
class _Segment:
    """One piece of the message body: plain text, HTML or both alternatives."""

    plain: str | None = None
    html: str | None = None


@dataclass
class _Forward:
    text: str
    in_report: bool


@dataclass
class _PartInfo:
    """What the walk needs from one part's headers, read raw."""

    content_type: str
    params: dict[str, str | tuple[str, bytes]]
    disposition: str
    disposition_params: dict[str, str | tuple[str, bytes]]
    encoding: str
    content_id: str

    @classmethod
    def of(cls, part: Message, content_type: str) -> _PartInfo:
        first: dict[str, str] = {}
        for key, value in part.raw_items():
            first.setdefault(key.lower(), str(value))
        _main, params = _parse_params(first.get("content-type", ""))
        disposition, disposition_params = _parse_params(first.get("content-disposition", ""))
        encoding = first.get("content-transfer-encoding", "").strip().lower()
        encoding = encoding.split(";", 1)[0].strip().strip("\"'")
        encoding = encoding.split()[0] if encoding else ""
        content_id = first.get("content-id", "").strip()
        content_id = content_id.split()[0].strip("<>")[:250] if content_id else ""
        return cls(
            content_type=content_type,
            params=params,
            disposition=disposition,
            disposition_params=disposition_params,
            encoding=_CTE_ALIASES.get(encoding, encoding),
            content_id=content_id,
        )

    def param(self, name: str) -> str:
        value = self.params.get(name)
        if isinstance(value, tuple):
            return value[1].decode("ascii", "replace")
        return value or ""


class _PartBudget:
    """The MIME parts one message may still have read, shared by nested walks."""

    __slots__ = ("left", "omitted")

    def __init__(self) -> None:
        self.left = MAX_PARTS
        self.omitted = 0


def _count_parts(part: Message) -> int:
    """Return the number of MIME parts in the tree under `part` (itself included)."""
    count = 0
    stack = [part]
    while stack:
        count += 1
        payload = getattr(stack.pop(), "_payload", None)
        if isinstance(payload, list):
            stack.extend(item for item in payload if isinstance(item, Message))
    return count


class _Walker:
    """Collects body segments, attachments and report data from one message tree."""

    def __init__(
        self,
        hints: Iterable[str],
        defects: list[str],
        linesep: str = "\n",
        budget: _PartBudget | None = None,
    ) -> None:
        self.hints = hints
        self.defects = defects
        self.linesep = linesep
        self.budget = budget if budget is not None else _PartBudget()
        self.omitted_attachments = 0
        self.generated = 0
        self.attachments: list[ParsedAttachment] = []
        self.forwards: list[_Forward] = []
        self.report_type = ""
        self.attached_message_ids: list[str] = []
        self.dsn: list[tuple[str, str, str]] = []

    # -- structure ------------------------------------------------------

    def walk(self, part: Message, depth: int, segments: list[_Segment], in_report: bool) -> None:
        if depth > _MAX_DEPTH:
            _note(self.defects, "MIME nesting too deep; inner parts skipped")
            self.budget.omitted += _count_parts(part)
            return
        if self.budget.left <= 0:
            _note(self.defects, f"more than {MAX_PARTS} MIME parts; the rest skipped")
            self.budget.omitted += _count_parts(part)
            return
        self.budget.left -= 1
        for item in getattr(part, "defects", ()):
            _note(self.defects, type(item).__name__)
        try:
            content_type = part.get_content_type()
        except Exception:
            content_type = "application/octet-stream"
        try:
            info = _PartInfo.of(part, content_type)
            maintype, _, subtype = content_type.partition("/")
            payload = getattr(part, "_payload", None)
            if maintype == "message" and isinstance(payload, list):
                self.message_part(info, payload, depth, in_report)
            elif isinstance(payload, list):
                if subtype == "alternative":
                    self.alternative(payload, depth, segments, in_report)
                else:
                    if subtype == "report" and not self.report_type:
                        self.report_type = info.param("report-type").strip().lower() or "unknown"
                        in_report = True
                    for child in payload:
                        if isinstance(child, Message):
                            self.walk(child, depth + 1, segments, in_report)
            else:
                self.leaf(part, info, segments)
        except RecursionError:
            raise
        except Exception as error:  # one broken part must not lose the rest
            _note(self.defects, f"part {content_type} skipped: {type(error).__name__}")

    def alternative(
        self, children: list, depth: int, segments: list[_Segment], in_report: bool
    ) -> None:
        options: list[list[_Segment]] = []
        for child in children:
            if isinstance(child, Message):
                option: list[_Segment] = []
                self.walk(child, depth + 1, option, in_report)
                options.append(option)
        plain = None
        for option in options:
            if option and all(segment.html is None for segment in option):
                text = _join_plain(option)
                if text.strip():
                    plain = text
                    break
        html = None
        for option in reversed(options):
            if any(segment.html is not None for segment in option):
                html = _join_html(option)
                break
        if plain is None and html is None:
            for option in reversed(options):
                if option:
                    segments.extend(option)
                    return
            return
        segments.append(_Segment(plain=plain, html=html))

    # -- leaves ---------------------------------------------------------

    def leaf(self, part: Message, info: _PartInfo, segments: list[_Segment]) -> None:
        content_type = info.content_type
        filename = self.filename(info)
        raw = _raw_payload(part)
        uu_name = ""
        if info.encoding in _UU_ENCODINGS:
            data, uu_name = _uudecode(raw) or (raw, "")
        else:
            data = _decode_transfer(raw, info.encoding, self.defects)

        if content_type.startswith("multipart/"):
            _note(self.defects, "multipart without parts read as text")
            content_type = "text/plain"
        if (
            content_type in ("text/plain", "text/html")
            and info.disposition != "attachment"
            and not filename
            and not uu_name
        ):
            self.body(info, content_type, data, segments)
            return

        default_name = ""
        if content_type == "text/rfc822-headers":
            message_id = _message_id_in_headers(data)
            if message_id:
                self.attached_message_ids.append(message_id)
            default_name = "original-headers.txt"
        elif content_type == "message/delivery-status":
            self.dsn.extend(_parse_dsn(data))
            default_name = "delivery-status.txt"
        elif info.content_id:
            match = _CONTENT_ID_FILENAME.match(info.content_id)
            default_name = clean_filename(match.group(1)) if match else ""
        self.add_attachment(filename or uu_name, content_type, data, info.content_id, default_name)

    def body(
        self, info: _PartInfo, content_type: str, data: bytes, segments: list[_Segment]
    ) -> None:
        charset = info.param("charset") or None
        if content_type == "text/html":
            if charset is None:
                sniffed = _META_CHARSET.search(data[:4096])
                charset = sniffed.group(1).decode("ascii") if sniffed else None
            segments.append(_Segment(html=decode_bytes(data, charset, self.hints)))
            return
        text = _clean_text(decode_bytes(data, charset, self.hints))
        if info.param("format").lower() == "flowed":
            text = _unflow(text, info.param("delsp").lower() == "yes")
        if "begin " in text:
            text = self.extract_uuencoded(text)
        segments.append(_Segment(plain=text))

    def extract_uuencoded(self, text: str) -> str:
        """Move "begin 644 name … end" blocks of a text body into attachments."""
        out: list[str] = []
        position = 0
        for begin in _UU_BEGIN.finditer(text):
            if begin.start() < position:
                continue
            end = _UU_END.search(text, begin.end())
            if end is None:
                break
            try:
                block = text[begin.end() : end.start()].encode("ascii")
            except UnicodeEncodeError:
                continue
            decoded = _uudecode(block, strict=True)
            if decoded is None:
                continue
            name = clean_filename(begin.group(1))
            content_type = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
            self.add_attachment(name, content_type, decoded[0], "", "")
            out.append(text[position : begin.start()])
            position = end.end()
        out.append(text[position:])
        return "".join(out)

    def message_part(self, info: _PartInfo, payload: list, depth: int, in_report: bool) -> None:
        filename = self.filename(info)
        content_type = info.content_type
        if content_type not in ("message/rfc822", "message/global"):
            # delivery-status, disposition-notification: blocks of fields
            data = b"".join(
                _serialize(block, self.linesep) for block in payload if isinstance(block, Message)
            )
            if content_type == "message/delivery-status":
                self.dsn.extend(_parse_dsn(data))
            default = content_type.split("/", 1)[1] + ".txt"
            self.add_attachment(filename, content_type, data, info.content_id, default)
            return
        if not payload or not isinstance(payload[0], Message):
            self.add_attachment(filename, content_type, b"", info.content_id, "")
            return
        inner = payload[0]
        raw_inner = _serialize(inner, _line_ending(inner, self.linesep))
        if info.encoding in ("base64", "quoted-printable") or info.encoding in _UU_ENCODINGS:
            # The parser read an encoded message as if it were plain: decode, re-parse.
            raw_inner = _decode_transfer(raw_inner.lstrip(b"\r\n"), info.encoding, self.defects)
            inner = BytesParser(policy=_COMPAT32).parsebytes(raw_inner)

        sub = _Walker(self.hints, self.defects, self.linesep, self.budget)
        sub_segments: list[_Segment] = []
        sub.walk(inner, depth + 1, sub_segments, False)
        subject = clean_filename(decode_header_value(_first_header(inner, "subject"), self.hints))
        message_ids = _message_ids(_first_header(inner, "message-id"))
        if message_ids:
            self.attached_message_ids.append(message_ids[0])
        name = filename or (subject + ".eml" if subject else "")
        self.add_attachment(name, "message/rfc822", raw_inner, info.content_id, "")
        self.forwards.append(_Forward(_forward_block(inner, sub, sub_segments), in_report))

    # -- helpers --------------------------------------------------------

    def filename(self, info: _PartInfo) -> str:
        for value in (info.disposition_params.get("filename"), info.params.get("name")):
            cleaned = clean_filename(_parameter_text(value, self.hints))
            if cleaned:
                return cleaned
        return ""

    def add_attachment(
        self, filename: str, content_type: str, data: bytes, content_id: str, default_name: str
    ) -> None:
        if len(self.attachments) >= MAX_ATTACHMENTS:
            _note(self.defects, f"more than {MAX_ATTACHMENTS} attachments; the rest skipped")
            self.omitted_attachments += 1
            return
        if not filename:
            filename = default_name
        if not filename:
            self.generated += 1
            filename = f"attachment-{self.generated}{_extension_for(content_type)}"
        self.attachments.append(
            ParsedAttachment(
                filename=filename, content_type=content_type, payload=data, content_id=content_id
            )
        )


def _join_plain(segments: list[_Segment]) -> str:
    texts: list[str] = []
    for segment in segments:
        if segment.plain is not None and (segment.plain.strip() or segment.html is None):
            text = segment.plain
        else:
            text = html_to_text(segment.html or "")
        if text.strip():
            texts.append(text.strip("\n"))
    return "\n\n".join(texts)


def _join_html(segments: list[_Segment]) -> str:
    pieces = []
    for segment in segments:
        if segment.html is not None:
            pieces.append(segment.html)
        elif segment.plain and segment.plain.strip():
            pieces.append("<pre>" + html_lib.escape(segment.plain) + "</pre>")
    return "\n".join(pieces)


def _line_ending(message: Message, default: str) -> str:
    """Return the line end the bodies of ``message`` were received with."""
    stack = [message]
    while stack:
        payload = getattr(stack.pop(), "_payload", None)
        if isinstance(payload, list):
            stack.extend(item for item in payload if isinstance(item, Message))
        elif isinstance(payload, str) and "\n" in payload:
            return "\r\n" if "\r\n" in payload else "\n"
    return default


def _serialize(message: Message, linesep: str = "\n") -> bytes:
    policy = _SERIALIZE_POLICIES[linesep]
    try:
        return message.as_bytes(policy=policy)
    except Exception:
        try:
            return message.as_string(policy=policy).encode("utf-8", "surrogateescape")
        except Exception:
            return b""


_HEADERS_MESSAGE_ID = re.compile(rb"(?im)^message-id[ \t]*:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)")


def _message_id_in_headers(data: bytes) -> str:
    match = _HEADERS_MESSAGE_ID.search(data)
    if not match:
        return ""
    ids = _message_ids(match.group(1).decode("utf-8", "replace"))
    return ids[0] if ids else ""


def _parse_dsn(data: bytes) -> list[tuple[str, str, str]]:
    """Return (recipient, action, status) for each recipient block of a delivery-status."""
    text = _FOLD.sub("", data.decode("utf-8", "replace"))
    result: list[tuple[str, str, str]] = []
    fields: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            recipient = fields.get("final-recipient") or fields.get("original-recipient")
            if recipient:
                address = recipient.split(";", 1)[-1].strip().strip("<>").strip().lower()
                action = (fields.get("action") or "").split()
                result.append(
                    (address, action[0].lower() if action else "", fields.get("status", ""))
                )
            fields = {}
            continue
        name, separator, value = line.partition(":")
        if separator:
            fields.setdefault(name.strip().lower(), value.strip())
    return result[:100]


def _forward_block(inner: Message, walker: _Walker, segments: list[_Segment]) -> str:
    lines = ["---------- Препратено съобщение ----------"]
    for label, header in (("От", "from"), ("Дата", "date"), ("Относно", "subject"), ("До", "to")):
        value = decode_header_value(_first_header(inner, header), walker.hints).strip()
        if value:
            lines.append(f"{label}: {value}")
    body = _join_plain(segments)
    nested = "\n\n".join(forward.text for forward in walker.forwards)
    return "\n".join(lines) + "\n\n" + "\n\n".join(part for part in (body, nested) if part)


# ---------------------------------------------------------------------------
# Headers of the message


def _best_mailbox(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """Return the first (name, address) with a real address, else the first with any."""
    for name, address in pairs:
        if "@" in address:
            return name, address
    for name, address in pairs:
        if address:
            return name, address
    return "", ""


def _fill_headers(result: ParsedMail, message: Message, hints: Iterable[str]) -> None:
    headers: dict[str, str] = {}
    raw_all: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        key = str(name).strip().lower()
        if key in raw_all:
            raw_all[key].append(str(value))
        else:
            raw_all[key] = [str(value)]
            headers[key] = decode_header_value(str(value), hints).strip()
    raw_first = {key: values[0] for key, values in raw_all.items()}
    result.headers = headers

    result.subject = headers.get("subject", "")
    ids = _message_ids(raw_first.get("message-id", ""))
    result.message_id = ids[0] if ids else ""
    reply_ids = _message_ids(raw_first.get("in-reply-to", ""))
    result.in_reply_to = reply_ids[0] if reply_ids else ""
    result.references = _message_ids(raw_first.get("references", ""))[:_MAX_REFERENCES]

    def addresses(name: str) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for value in raw_all.get(name, ()):
            pairs.extend(parse_addresses(value, hints))
        return pairs

    senders = addresses("from")
    from_name, from_addr = _best_mailbox(senders)
    if not from_addr:
        from_name = next((name for name, _address in senders if name), "")
    if not from_addr:
        for fallback in ("sender", "reply-to"):
            _name, candidate = _best_mailbox(addresses(fallback))
            if candidate:
                from_addr = candidate
                result.defects.append(f"From has no address; {fallback.title()} used")
                break
    result.from_addr = from_addr
    result.from_name = from_name
    result.to = [address for _name, address in addresses("to") if address]
    result.cc = [address for _name, address in addresses("cc") if address]
    result.reply_to = _best_mailbox(addresses("reply-to"))[1]

    date_value = headers.get("date", "")
    if date_value:
        try:
            parsed = parsedate_to_datetime(date_value)
        except Exception:
            parsed = None
            result.defects.append("unreadable Date header")
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        result.date = parsed


# ---------------------------------------------------------------------------
# Bounces

_BOUNCE_SENDER = re.compile(
    r"(?:mailer-daemon|mailer_daemon|mail-daemon|mailerdaemon|postmaster)(?:@|$)"
)
_BOUNCE_RECIPIENT_LINE = re.compile(r"(?m)^[ \t]*<([^<>\s@]{1,200}@[^<>\s]{1,255})>[ \t]*:")
_EXIM_RECIPIENT_LINE = re.compile(r"(?m)^[ \t]{2,}([^\s<>@]{1,200}@[^\s<>:]{1,255})[ \t]*$")
_TEXT_MESSAGE_ID = re.compile(r"(?im)^[ \t>]*message-id[ \t]*:[ \t]*<([^<>\s]{1,998})>")


def looks_like_bounce_sender(address: str) -> bool:
    """Return True for the addresses mail servers send bounces from."""
    return bool(_BOUNCE_SENDER.match(address.lower()))


def _fill_bounce(result: ParsedMail, walker: _Walker, text: str) -> None:
    failed_header = result.headers.get("x-failed-recipients", "")
    report = bool(walker.report_type)
    if not (report or failed_header or looks_like_bounce_sender(result.from_addr)):
        return
    if walker.attached_message_ids:
        result.bounce_original_message_id = walker.attached_message_ids[0]
    else:
        match = _TEXT_MESSAGE_ID.search(text)
        if match:
            result.bounce_original_message_id = match.group(1)

    recipients: list[str] = []
    result.dsn_actions = [action for _address, action, _status in walker.dsn]
    for address, action, status in walker.dsn:
        if action.startswith("failed") or (not action and status.startswith("5")):
            recipients.append(address)
    if not walker.dsn:
        recipients.extend(address for _n, address in parse_addresses(failed_header) if address)
        if not recipients:
            recipients.extend(m.group(1).lower() for m in _BOUNCE_RECIPIENT_LINE.finditer(text))
        if not recipients and "failed" in text.lower():
            recipients.extend(m.group(1).lower() for m in _EXIM_RECIPIENT_LINE.finditer(text))
    result.bounce_recipients = list(dict.fromkeys(recipients))[:50]


# ---------------------------------------------------------------------------
# Entry point

_CID_REFERENCE = re.compile(r"cid:([^\"'\s>)]{1,250})", re.IGNORECASE)


def _parse_into(result: ParsedMail, raw: bytes) -> None:
    raw = _repair_head(raw, result.defects)
    message = BytesParser(policy=_COMPAT32).parsebytes(raw)
    hints = _Hints(message)

    walker = _Walker(hints, result.defects, "\r\n" if b"\r\n" in raw[:4096] else "\n")
    segments: list[_Segment] = []
    walker.walk(message, 0, segments, False)
    _fill_headers(result, message, hints)

    body_text = _join_plain(segments)
    if any(segment.html is not None for segment in segments):
        result.html = _join_html(segments)
        if len(result.html) > MAX_SAFE_HTML_CHARS:
            result.defects.append("HTML body too long to show; its text is kept")
        else:
            try:
                result.safe_html = clean_html(result.html)
            except Exception as error:  # a sanitiser bug must not lose the message
                result.defects.append(f"HTML body not shown ({type(error).__name__})")
    result.omitted_parts = walker.budget.omitted
    result.omitted_attachments = walker.omitted_attachments
    new, quoted = split_reply(body_text)
    forwards = [forward.text for forward in walker.forwards if not forward.in_report]
    reported = [forward.text for forward in walker.forwards if forward.in_report]
    result.text = "\n\n".join(part for part in (new, *forwards) if part)
    result.quoted = "\n\n".join(part for part in (quoted, *reported) if part)
    result.full_text = "\n\n".join(part for part in (body_text, *forwards, *reported) if part)

    result.is_multipart_report = bool(walker.report_type)
    result.report_type = walker.report_type if walker.report_type != "unknown" else ""
    _fill_bounce(result, walker, result.full_text)

    referenced = set()
    if result.html and "cid:" in result.html.lower():
        referenced = {unquote(m.group(1)).lower() for m in _CID_REFERENCE.finditer(result.html)}
    for attachment in walker.attachments:
        attachment.inline = bool(attachment.content_id) and (
            attachment.content_id.lower() in referenced
        )
    result.attachments = walker.attachments


def _parse_headers_only(result: ParsedMail, raw: bytes) -> None:
    defects: list[str] = []
    raw = _repair_head(raw, defects)
    message = BytesHeaderParser(policy=_COMPAT32).parsebytes(raw)
    _fill_headers(result, message, ())
    body = getattr(message, "_payload", None)
    text = body if isinstance(body, str) else ""
    result.full_text = result.text = _clean_text(_guess_decode(_to_bytes(text)))


# The most of a message's head parse_headers reads: enough for any real mail.
MAX_HEAD_BYTES = 256 * 1024


def parse_headers(raw: bytes) -> ParsedMail:
    """Return a ``ParsedMail`` with only the headers filled in; never raises.

    For the poller, which needs the sender and the thread ids of a message
    before it is processed; reads at most MAX_HEAD_BYTES and never the body.
    The values are those ``parse_message`` would give.
    """
    result = ParsedMail()
    try:
        head = _repair_head(bytes(raw[:MAX_HEAD_BYTES]), result.defects)
        _fill_headers(result, BytesHeaderParser(policy=_COMPAT32).parsebytes(head), ())
    except Exception:  # a key worked out from less is still a key
        result.defects.append("headers could not be parsed")
    return result


def parse_message(raw: bytes) -> ParsedMail:
    """Return the ``ParsedMail`` for a raw RFC 822 message; never raises.

    Anything that could not be read is described in ``ParsedMail.defects``;
    when the MIME structure itself cannot be walked, the headers and the raw
    body text are still returned, with ``structure_unreadable`` set.
    """
    try:
        data = bytes(raw)
    except Exception:
        data = str(raw).encode("utf-8", "surrogateescape")
    result = ParsedMail(raw_digest=hashlib.sha256(data).hexdigest())
    try:
        _parse_into(result, data)
        # Last line of defence: whichever path named a part, the name that
        # leaves the parser has no path and no control characters.
        for attachment in result.attachments:
            attachment.filename = clean_filename(attachment.filename) or "attachment"
        return result
    except RecursionError:
        note = "message nested too deeply to parse; headers and raw text kept"
    except Exception as error:  # the caller must always get a ParsedMail
        note = f"message could not be parsed ({type(error).__name__}); headers and raw text kept"
    fallback = ParsedMail(
        raw_digest=result.raw_digest,
        defects=[*result.defects, note],
        structure_unreadable=True,
    )
    try:
        _parse_headers_only(fallback, data)
    except Exception:
        fallback.defects.append("headers could not be parsed")
    return fallback
