"""Separate the new text of a reply from the quoted history and the signature.

Handles the shapes that reach a Bulgarian helpdesk: Outlook header blocks in
Bulgarian and English ("От: … Изпратено: …", "From: … Sent: …"), the
"-----Original Message-----" separator, Gmail/Thunderbird/Apple attributions
("On … wrote:", "На … написа:", "В … <x@y> написа:"), ">" quoted lines and
the "-- " signature delimiter.
"""

from __future__ import annotations

import re

# "-----Original Message-----" and its relatives in other clients and languages.
_SEPARATOR = re.compile(
    r"\s*-{2,}\s*(?:original message|оригинално съобщение|оригинално писмо|"
    r"ursprüngliche nachricht|original nachricht|originalnachricht|message d'origine|"
    r"mensaje original|исходное сообщение)\s*-{2,}\s*$",
    re.IGNORECASE,
)

# A forward marker: the header block after it starts forwarded content, which
# a helpdesk must show rather than fold.
_FORWARD_MARKER = re.compile(
    r"\s*(?:-{2,}\s*(?:forwarded message|препратено съобщение|препратено писмо|"
    r"weitergeleitete nachricht|message transféré|пересланное сообщение)\s*-{2,}"
    r"|begin forwarded message:|начало на препратеното съобщение:)\s*$",
    re.IGNORECASE,
)

# First line of an Outlook header block ("From: Name <x@y>", also bold "*From:*").
_HEADER_FROM = re.compile(r"\s*\*?(?:from|от|von|de|od|от кого)\s*:\*?\s*\S", re.IGNORECASE)
# A later line of the same block.
_HEADER_SENT = re.compile(
    r"\s*\*?(?:sent|date|изпратено|дата|изпратен|gesendet|datum|envoyé|отправлено)\s*:\*?",
    re.IGNORECASE,
)
# Outlook web and mobile clients sometimes put the whole block on one line.
_HEADER_ONE_LINE = re.compile(
    r"\s*\*?(?:from|от)\s*:.{1,300}?\b(?:sent|изпратено)\s*:", re.IGNORECASE
)
# The underscore rule Outlook draws above the header block.
_RULE = re.compile(r"\s*_{10,}\s*$")

# Attribution lines, possibly wrapped onto a second line by the client.
_ATTRIBUTION = re.compile(
    r"\s*(?:"
    r"on\b.{1,300}\bwrote\s*:"
    r"|(?:на|в)\b.{1,300}\bнаписа\s*:"
    r"|am\b.{1,300}\bschrieb\b.{0,100}:"
    r"|le\b.{1,300}\ba écrit\s*:"
    r")\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"\s*(?:on|на|в|am|le)\b", re.IGNORECASE)

# The signature delimiter, also with the no-break space some clients send.
_SIGNATURES = frozenset({"-- ", "--\u00a0"})


def _attribution_at(lines: list[str], index: int) -> int:
    """Return how many lines (1 or 2) form an attribution at ``index``, else 0."""
    line = lines[index]
    if not _ATTRIBUTION_START.match(line):
        return 0
    if _ATTRIBUTION.match(line):
        return 1
    if index + 1 < len(lines) and len(lines[index + 1]) <= 200:
        if _ATTRIBUTION.match(line + " " + lines[index + 1]):
            return 2
    return 0


def _outlook_block_at(lines: list[str], index: int) -> bool:
    line = lines[index]
    if len(line) > 1000:
        return False
    if _HEADER_ONE_LINE.match(line):
        return True
    if not _HEADER_FROM.match(line):
        return False
    # "Sent:"/"Изпратено:" follows within the next few lines (names may wrap).
    for following in lines[index + 1 : index + 5]:
        if _HEADER_SENT.match(following):
            return True
    return False


def _hard_cut(lines: list[str]) -> int:
    """Return the index of the first line of the signature or the quoted history."""
    for index, line in enumerate(lines):
        if line in _SIGNATURES:
            return index
        if _SEPARATOR.match(line):
            return index
        if _outlook_block_at(lines, index):
            before = index - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            if before >= 0 and _FORWARD_MARKER.match(lines[before]):
                continue
            # Take the underscore rule above the block along.
            if before >= 0 and _RULE.match(lines[before]):
                return before
            return index
    return len(lines)


def _fold_quotes(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split ``lines`` (no signature, no Outlook block) into new and quoted lines.

    A trailing quoted block (top-posting) and a single quoted block followed by
    the answer (bottom-posting) are folded together with their attribution.
    Interleaved answers are left alone: folding them would hide the answers.
    """
    kinds: list[str] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].lstrip()
        if not stripped:
            kinds.append("blank")
        elif stripped[0] == ">":
            kinds.append("quote")
        else:
            size = _attribution_at(lines, index)
            if size:
                kinds.extend(["attribution"] * size)
                index += size
                continue
            kinds.append("text")
        index += 1

    # Group the quoted lines (with blanks between them) into blocks.
    blocks: list[tuple[int, int]] = []
    start = None
    for index, kind in enumerate(kinds):
        if kind == "quote":
            if start is None:
                start = index
            end = index
        elif kind in ("text", "attribution") and start is not None:
            blocks.append((start, end))
            start = None
    if start is not None:
        blocks.append((start, end))

    if not blocks:
        # An attribution without ">" lines: what follows it is the quote.
        for index, kind in enumerate(kinds):
            if kind == "attribution":
                return lines[:index], lines[index:]
        return lines, []
    if len(blocks) > 1:
        return lines, []

    first, last = blocks[0]
    # Extend the fold upwards over blank lines and the attribution.
    while first > 0 and kinds[first - 1] in ("blank", "attribution"):
        first -= 1
    # Blank lines above the fold stay with the new text: they may part it
    # from an answer below the quote.
    while kinds[first] == "blank":
        first += 1
    new = lines[:first] + lines[last + 1 :]
    return new, lines[first : last + 1]


def _inner(lines: list[str]) -> list[str]:
    """Return ``lines`` without the blank lines around them."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _tidy(lines: list[str]) -> str:
    """Join ``lines`` without the blank lines around them and the spaces ending each."""
    return "\n".join(line.rstrip() for line in _inner(lines))


def split_reply(text: str) -> tuple[str, str]:
    """Return ``(new_text, folded)`` for the body of a reply.

    ``new_text`` is what the sender wrote now; ``folded`` holds the quoted
    history and the signature in their original order, for a "show more"
    control. When nothing new would remain (a bare forward, a message that
    starts with a quote), the whole text is returned as new and nothing is
    folded, so no content can disappear.
    """
    if not text:
        return "", ""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = normalised.split("\n")

    cut = _hard_cut(lines)
    head, tail = lines[:cut], lines[cut:]
    new_lines, quoted_lines = _fold_quotes(head)

    new = _tidy(new_lines)
    if not new:
        return _tidy(lines), ""
    folded_parts = ["\n".join(_inner(part)) for part in (quoted_lines, tail)]
    folded_parts = [part for part in folded_parts if part]
    return new, "\n\n".join(folded_parts)
