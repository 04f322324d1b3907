"""Placeholders in canned replies and macros: a small, safe substitution (a pure core).

Written by administrators and agents, filled per ticket:

    {{requester}}  {{reference}}  {{institution}}  {{agent}}  {{subject}}  {{kb:slug}}

(and the older single-brace names {requester_name}, {reference}, {subject},
{institution}, {agent_name}). It is not a template language: a placeholder is
a name looked up in a dict of plain strings, nothing is evaluated, attributes
are never reached, and the values are inserted as they are (never scanned
again for placeholders). A name that is not known (or a KB article that does
not exist) stays in the text as written and is reported, so that the editor
can flag it and a macro can refuse to send it.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

# {{ name }} or {{kb:slug}}; whitespace inside the braces is allowed.
DOUBLE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]{0,80})(?::([A-Za-z0-9_-]{1,80}))?[ \t]*\}\}")
# The older {name} style, only for the names it had.
LEGACY = re.compile(r"(?<!\{)\{(requester_name|reference|subject|institution|agent_name)\}(?!\})")
LEGACY_NAMES = {
    "requester_name": "requester",
    "reference": "reference",
    "subject": "subject",
    "institution": "institution",
    "agent_name": "agent",
}
NAMES = ("requester", "reference", "institution", "agent", "subject")


@dataclass(frozen=True)
class Filled:
    text: str
    unknown: tuple[str, ...]  # the placeholders left as written, in order of appearance

    @property
    def complete(self) -> bool:
        return not self.unknown


def fill(
    text: str,
    values: dict[str, str],
    *,
    kb_link: Callable[[str], str | None] | None = None,
) -> Filled:
    """Return `text` with its placeholders replaced by `values` (and KB links by `kb_link`).

    `values` maps the names in NAMES to plain strings; `kb_link(slug)` returns
    the address of an article or None. Unknown placeholders stay visible.
    """
    text = text or ""
    # Linear in the text: the patterns have no nested repetition.
    unknown: list[str] = []

    def double(match: re.Match) -> str:
        name, argument = match.group(1), match.group(2)
        if name == "kb" and argument:
            url = kb_link(argument) if kb_link is not None else None
            if url:
                return url
        elif argument is None and name in values and name in NAMES:
            return str(values[name])
        unknown.append(match.group(0))
        return match.group(0)

    def legacy(match: re.Match) -> str:
        name = LEGACY_NAMES[match.group(1)]
        if name in values:
            return str(values[name])
        unknown.append(match.group(0))
        return match.group(0)

    # One pass per syntax over the *original* segments: a value that happens
    # to contain braces is never filled again.
    out, last = [], 0
    for match in DOUBLE.finditer(text):
        out.append(_legacy_pass(text[last : match.start()], legacy))
        out.append(double(match))
        last = match.end()
    out.append(_legacy_pass(text[last:], legacy))
    return Filled("".join(out), tuple(unknown))


def _legacy_pass(segment: str, replace) -> str:
    return LEGACY.sub(replace, segment)


def values_for(ticket, agent) -> dict[str, str]:
    """Return the placeholder values of one ticket, as written by `agent`."""
    requester = ticket.requester_name or (
        ticket.requester.get_full_name() if ticket.requester_id else ticket.requester_email
    )
    return {
        "requester": requester or "",
        "reference": ticket.reference,
        "subject": ticket.subject,
        "institution": str(ticket.institution) if ticket.institution_id else "",
        "agent": agent.get_full_name() if agent is not None else "",
    }
