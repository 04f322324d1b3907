"""History in the reader's language: a TicketEvent's values and note as the reader should see them.

History rows are written once and read for years, by people who read
Bulgarian or English. What a row holds was written by the machine in one
language: routing reasons in English (the routing core's own words), other
notes in the language active when the change happened (a mail worker writes
Bulgarian, an English-speaking agent English), status and priority as codes.

`describe(event)` turns a row into what the reader sees: codes become labels,
and a machine note (or each "; "-separated part of one) that matches a known
template, in any of the site's languages, is written again in the active
language with the same values. Anything else (a reason a person typed, a note
of an unknown shape) is shown as it was written.
"""

import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext_lazy

from tickets.models import Channel, Competence, Priority, Status, TicketEvent, Tier

# --- the notes the helpdesk writes -------------------------------------------------------

# Notes written through gettext by events, actions and mail ingest (their msgids).
NOTES = (
    gettext_noop("Filed through %(channel)s"),
    gettext_noop("Linked to earlier request %(ref)s"),
    gettext_noop("File %(name)s removed: %(reason)s"),
    gettext_noop("Merged into %(ref)s"),
    gettext_noop("%(ref)s was merged into this request"),
    gettext_noop("Marked as a mass incident"),
    gettext_noop("No longer a mass incident"),
    gettext_noop("Linked to the mass incident %(ref)s"),
    gettext_noop("The %(which)s target was missed."),
    gettext_noop("taken from the queue"),
    gettext_noop("Closed automatically after the reopen period."),
    gettext_noop("The requester answered."),
    gettext_noop("Reopened by the requester's reply."),
    gettext_noop(
        "Held for review: the mail claims to be from %(who)s, but the sender is not "
        "proven (%(why)s)."
    ),
    gettext_noop("Mail to %(who)s could not be delivered; no more notifications go there."),
    gettext_noop("A delivery report arrived: %(why)s"),
    gettext_noop(
        "%(parts)s parts and %(files)s attachments of this e-mail were not read; "
        "the received mail keeps them."
    ),
    gettext_noop("The e-mail was copied to: %(cc)s (not added to the request)."),
    gettext_noop("No acknowledgement: bulk-looking mail from a sender that is not proven."),
    gettext_noop("No acknowledgement: more than %(n)s acknowledgements this hour (%(scope)s)."),
    gettext_noop("Handed over from %(who)s: %(reason)s"),
)

# The routing core's reasons (tickets/routing.py, tickets/assignment.py): always
# written in English, one per "; "-separated part. More specific shapes first.
REASONS = (
    gettext_noop("institution %(code)s given with request"),
    gettext_noop("institution %(code)s from sender domain %(domain)s"),
    gettext_noop("institution %(code)s from sender address"),
    gettext_noop("institution %(code)s from code in text"),
    gettext_noop("institution unknown: code %(codes)s not in directory"),
    gettext_noop("institution unknown"),
    gettext_noop("no assignee: region unknown"),
    gettext_noop("no assignee: competence unknown"),
    gettext_noop(
        "no assignee among %(scope)s: %(qualified)s qualified, %(absent)s absent, "
        "%(full)s at capacity"
    ),
    gettext_noop("no assignee: no %(scope)s"),
    gettext_noop(
        "assigned to %(name)s: previous assignee of requester, load %(load)s/%(capacity)s"
    ),
    gettext_noop(
        "assigned to %(name)s: load %(load)s/%(capacity)s, least loaded of %(n)s %(scope)s"
    ),
    gettext_noop("assigned to %(name)s: load %(load)s/%(capacity)s (over capacity)"),
    gettext_noop("assigned to %(name)s: load %(load)s/%(capacity)s"),
    gettext_noop("competence %(code)s chosen by requester is not in catalogue"),
    gettext_noop("competence %(code)s chosen by requester"),
    gettext_noop("competence not recognised"),
    gettext_noop("competence %(code)s from keywords %(keywords)s"),
    gettext_noop("region %(region)s from institution %(code)s"),
    gettext_noop("region unknown"),
    gettext_noop("triage: competence not recognised"),
    gettext_noop("triage: region unknown"),
    gettext_noop("tier %(tier)s from competence %(code)s"),
)

# Who the routing core looked among (the %(scope)s above).
SCOPES = (
    gettext_noop("central agents (none holds %(code)s)"),
    gettext_noop("central agents with %(code)s"),
    gettext_noop("experts of region %(region)s with %(code)s"),
)

SLA_TARGETS = (gettext_noop("first response"), gettext_noop("resolution"))
OTHER_SCOPES = (gettext_noop("all senders"),)

# How each placeholder's value may look (tight shapes keep the templates apart).
NUMBER = r"\d+"
WORD = r"\S+"
ARG_SHAPES = {
    "n": NUMBER,
    "load": NUMBER,
    "capacity": NUMBER,
    "qualified": NUMBER,
    "absent": NUMBER,
    "full": NUMBER,
    "parts": NUMBER,
    "files": NUMBER,
    "code": WORD,
    "region": WORD,
    "tier": WORD,
    "ref": WORD,
}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")

QUEUES = {
    "assigned": pgettext_lazy("queue", "assigned to an expert"),
    "competence_queue": pgettext_lazy("queue", "competence queue"),
    "triage": pgettext_lazy("queue", "triage"),
}
CHOICES = {"status": Status, "priority": Priority, "tier": Tier}


@dataclass(frozen=True)
class Line:
    """One history row as the reader sees it."""

    old: str
    new: str
    note: str


def _pattern(template: str) -> re.Pattern:
    parts, end = [], 0
    for match in PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[end : match.start()]))
        name = match.group(1)
        parts.append(f"(?P<{name}>{ARG_SHAPES.get(name, '.+?')})")
        end = match.end()
    parts.append(re.escape(template[end:]))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


@functools.cache
def _patterns(templates: tuple[str, ...]) -> tuple[tuple[re.Pattern, str], ...]:
    """(regex, msgid) for every template in every site language, the English ones first."""
    out, seen = [], set()
    languages = ["en"] + [code for code, _name in settings.LANGUAGES if code != "en"]
    for language in languages:
        with translation.override(language):
            for msgid in templates:
                text = _(msgid)
                if (text, msgid) not in seen and PLACEHOLDER.sub("", text).strip(" .;:()"):
                    seen.add((text, msgid))
                    out.append((_pattern(text), msgid))
    return tuple(out)


@functools.cache
def _labels(words: tuple[str, ...]) -> dict[str, str]:
    """A word in any site language → its msgid."""
    out = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            out.update({_(w): w for w in words})
    return out


@functools.cache
def _channel_codes() -> dict[str, str]:
    out = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            out.update({str(label): value for value, label in Channel.choices})
    return out


def _argument(name: str, value: str) -> str | None:
    """The value in the active language; None when a value of a known kind is not one."""
    if name == "channel":
        code = _channel_codes().get(value)
        return str(Channel(code).label) if code else None
    if name == "which":
        msgid = _labels(SLA_TARGETS).get(value)
        return _(msgid) if msgid else None
    if name == "tier":
        return str(Tier(value).label) if value in Tier.values else None
    if name == "scope":
        msgid = _labels(OTHER_SCOPES).get(value)
        return _(msgid) if msgid else _translate(value, SCOPES)
    return value


def _translate(text: str, templates: tuple[str, ...]) -> str:
    """`text` again in the active language if it matches one of `templates`, else as it is."""
    for pattern, msgid in _patterns(templates):
        match = pattern.match(text)
        if not match:
            continue
        values = {k: _argument(k, v) for k, v in match.groupdict().items()}
        if None in values.values():
            continue  # e.g. "Filed through the window": not a channel, so not this template
        return _(msgid) % values if values else _(msgid)
    return text


def translate_note(note: str) -> str:
    """A stored note in the active language: whole, or part by part ("; "-separated)."""
    if not note:
        return note
    whole = _translate(note, NOTES)
    if whole != note:
        return whole
    parts = note.split("; ")
    return "; ".join(_translate(_translate(part, NOTES), REASONS) for part in parts)


def _competence_names() -> dict[str, str]:
    """Bulgarian competence name → the name in the active language."""
    if translation.get_language() == "bg":
        return {}
    return {c.name: c.name_en or c.name for c in Competence.objects.only("name", "name_en")}


def _value(event: TicketEvent, value: str, competences) -> str:
    field = event.field
    if not value:
        return value
    if field in CHOICES and value in CHOICES[field].values:
        return str(CHOICES[field](value).label)
    if event.kind == TicketEvent.Kind.ROUTED and value in QUEUES:
        return str(QUEUES[value])
    if event.kind == TicketEvent.Kind.SLA and value == "breached":
        return _("missed")
    if field == "is_incident" and value in ("True", "False"):
        return _("yes") if value == "True" else _("no")
    if field == "competence":
        return competences().get(value, value)
    return value


def describe(events) -> list[tuple[TicketEvent, Line]]:
    """Each event with its Line in the active language (competence names read once)."""
    names = None

    def competences():
        nonlocal names
        if names is None:
            names = _competence_names()
        return names

    return [
        (
            event,
            Line(
                old=_value(event, event.old_value, competences),
                new=_value(event, event.new_value, competences),
                note=translate_note(event.note),
            ),
        )
        for event in events
    ]
