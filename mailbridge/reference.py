"""Ticket reference tags in e-mail subjects.

A ticket reference looks like ``26-000123`` (two-digit year, dash, six or more
digits). Outgoing subjects carry it as ``[HD#26-000123]``; replies come back
with the tag re-cased, re-spaced, without brackets, behind any number of
"Re:"/"Отг:" prefixes, and now and then still RFC 2047 encoded.
"""

from __future__ import annotations

import re

from mailbridge.parsing import decode_header_value

_REFERENCE = re.compile(r"\d{2}-\d{6,}")

# "[HD#26-000123]", "hd#26-000123", "[HD # 26 - 000123]", "HD№26-000123".
_TAG = re.compile(
    r"(?<![A-Za-z0-9])HD\s*(?:#|№|no\.?)\s*(\d{2})\s*-\s*(\d{6,})(?!\d)",
    re.IGNORECASE,
)

# Reply and forward prefixes of the clients our users have, in any case and
# repeated: "RE: Fwd: Отг.: Препр.: AW: WG: SV: Re[2]:".
_PREFIX = re.compile(
    r"^\s*(?:"
    r"(?:re|fw|fwd|aw|wg|sv|antw|отг|отговор|препр)"
    r"\s*\.?\s*(?:\[\d{1,4}\]|\(\d{1,4}\))?\s*[:：]\s*"
    r")+",
    re.IGNORECASE,
)


def format_subject_tag(reference: str) -> str:
    """Return the subject tag for ``reference``, e.g. ``[HD#26-000123]``.

    Raises ValueError for a string that is not a ticket reference.
    """
    if not _REFERENCE.fullmatch(reference):
        raise ValueError(f"not a ticket reference: {reference!r}")
    return f"[HD#{reference}]"


def find_reference(subject: str) -> str | None:
    """Return the first ticket reference tagged in ``subject`` (``"26-000123"``), or None.

    Tolerates lower case, spaces inside the tag, missing brackets, reply
    prefixes and subjects that still hold RFC 2047 encoded words.
    """
    if not subject:
        return None
    match = _TAG.search(subject)
    if match is None and "=?" in subject:
        match = _TAG.search(decode_header_value(subject))
    if match is None:
        return None
    return f"{match.group(1)}-{match.group(2)}"


def strip_reply_prefixes(subject: str) -> str:
    """Return ``subject`` without leading reply/forward prefixes and surrounding spaces."""
    return _PREFIX.sub("", subject or "", count=1).strip()
