"""The routing core: from a request's facts, decide where the ticket goes.

Pure functions over plain frozen dataclasses, no database. The caller loads
institutions, the competence catalogue and agents (with their current load)
into these dataclasses, calls `route()`, and stores the `Decision`; its
`reasons` are short English strings kept in the ticket history so a person can
see later why the ticket went where it went.

The decision runs in steps:

1. the institution: given by the caller (the requester's membership), else
   from the sender's mail domain, else from a НЕИСПУО code in the text;
2. the region: the institution's region;
3. the competence: chosen by the requester, else guessed from keywords;
4. the tier: the competence's tier ("regional" first line or "central"
   support for technical faults);
5. the assignee: the least loaded qualified agent, the requester's previous
   agent first.

What cannot be decided goes to triage, never nowhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from fractions import Fraction
from functools import lru_cache
from typing import Protocol

TIER_REGIONAL = "regional"
TIER_CENTRAL = "central"

QUEUE_ASSIGNED = "assigned"
QUEUE_COMPETENCE = "competence_queue"
QUEUE_TRIAGE = "triage"

# Mail domains shared by many unrelated senders, so they say nothing about the
# institution. edu.mon.bg is here because every staff member of every
# institution has an official profile on it.
SHARED_MAIL_DOMAINS = frozenset(
    {
        "abv.bg",
        "mail.bg",
        "dir.bg",
        "gbg.bg",
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "ymail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "edu.mon.bg",
    }
)


@dataclass(frozen=True)
class CompetenceInfo:
    """A competence area of the catalogue and the keywords that suggest it."""

    code: str
    tier: str  # TIER_REGIONAL or TIER_CENTRAL
    keywords: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class InstitutionInfo:
    """A school or kindergarten: its НЕИСПУО code, region and own mail domains."""

    id: int
    code: str
    region_code: str
    email_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentInfo:
    """An agent who may take tickets, with the load they carry now."""

    id: int
    name: str
    tier: str
    region_code: str | None
    competences: frozenset[str]
    capacity: int
    open_load: int
    absent: bool = False
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class RequestFacts:
    """What is known about an incoming request before routing."""

    institution: InstitutionInfo | None
    competence_code: str | None
    subject: str
    text: str
    sender_email: str | None
    # The agent of the same requester's recent ticket within the follow-up
    # window; the caller computes it.
    previous_assignee_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """Where a ticket goes and why."""

    region_code: str | None
    competence_code: str | None
    tier: str
    assignee_id: int | None
    queue: str  # QUEUE_ASSIGNED, QUEUE_COMPETENCE or QUEUE_TRIAGE
    institution: InstitutionInfo | None
    reasons: tuple[str, ...]


class Directory(Protocol):
    """Lookups of institutions the router needs."""

    def institution_by_code(self, code: str) -> InstitutionInfo | None: ...

    def institution_by_domain(self, domain: str) -> InstitutionInfo | None: ...


class StaticDirectory:
    """A `Directory` over a fixed list of institutions, kept in dicts."""

    def __init__(self, institutions: Iterable[InstitutionInfo]) -> None:
        self._by_code: dict[str, InstitutionInfo] = {}
        self._by_domain: dict[str, InstitutionInfo] = {}
        for institution in institutions:
            self._by_code[institution.code] = institution
            for domain in institution.email_domains:
                self._by_domain[domain.strip().lower()] = institution

    def institution_by_code(self, code: str) -> InstitutionInfo | None:
        """Return the institution with this НЕИСПУО code, or None."""
        return self._by_code.get(code)

    def institution_by_domain(self, domain: str) -> InstitutionInfo | None:
        """Return the institution that owns exactly this mail domain, or None."""
        return self._by_domain.get(domain.lower())


# --- text and keywords -----------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(s: str) -> str:
    """Return `s` casefolded with punctuation turned into single spaces.

    Letters are composed (NFC) first so й and ё typed as a base letter plus a
    combining mark compare equal to the single letters; they are kept, not
    stripped to и and е.
    """
    s = unicodedata.normalize("NFC", s).casefold()
    return _NON_WORD.sub(" ", s).strip()


_VOWELS = frozenset("аъоуеиюяѝaeiouy")

# Endings that may follow a keyword's stem once its final vowel is dropped:
# noun, adjective and verb inflections and the definite articles. Listing them
# keeps "права" matching "правата" but not "правилно".
_ENDINGS = frozenset(
    {
        "",
        "а",
        "я",
        "и",
        "е",
        "о",
        "у",
        "ю",
        "ът",
        "ят",
        "та",
        "то",
        "те",
        "ти",
        "ите",
        "ата",
        "ята",
        "ото",
        "ето",
        "ове",
        "овете",
        "еве",
        "евете",
        "ен",
        "на",
        "но",
        "ни",
        "ния",
        "ният",
        "нията",
        "ната",
        "ното",
        "ните",
        "ия",
        "ият",
        "ията",
        "ии",
        "иите",
        "ски",
        "ска",
        "ско",
        "ах",
        "ам",
        "аш",
        "ат",
        "ем",
        "еш",
        "ете",
        "им",
        "иш",
        "ех",
        "ихме",
        "яхме",
        "аха",
        "яха",
        "ше",
        "ло",
        "ла",
        "ли",
        "л",
    }
)

_MIN_PREFIX_LEN = 4


def _token_matches(token: str, word: str) -> bool:
    """Return True if one keyword token matches one word of the text.

    Short tokens and numbers must match whole words, so "не" does not match
    "нещо" and "500" does not match a code "5001234". A longer token matches
    a word it begins (keywords may be given as stems: "делегир" matches
    "делегиране"); a token ending in a vowel also matches its stem followed by
    an inflection ending ("диплома" matches "дипломи", "дипломата").
    """
    if len(token) < _MIN_PREFIX_LEN or token.isdigit():
        return word == token
    if word.startswith(token):
        return True
    if token[-1] in _VOWELS:
        stem = token[:-1]
        if len(stem) >= _MIN_PREFIX_LEN and word.startswith(stem):
            return word[len(stem) :] in _ENDINGS
    return False


def _keyword_in(keyword_tokens: Sequence[str], words: Sequence[str], index=None) -> bool:
    """Return True if the keyword's tokens match consecutive words.

    `index` (from _word_index(words)) narrows the starting positions to the
    words that could match the first token, so a long text is not walked once
    per keyword.
    """
    n = len(keyword_tokens)
    if n == 0:
        return False
    if index is None:
        starts = range(len(words) - n + 1)
    else:
        starts = [i for i in index.get(_index_key(keyword_tokens[0]), ()) if i <= len(words) - n]
    for i in starts:
        if all(_token_matches(t, w) for t, w in zip(keyword_tokens, words[i : i + n])):
            return True
    return False


def _index_key(text: str) -> str:
    """Words a token can match share this key with it (see _token_matches).

    A short token or a number matches only the same word; a longer token only
    words that begin with its first _MIN_PREFIX_LEN letters (its stem is never
    shorter than that).
    """
    if len(text) < _MIN_PREFIX_LEN or text.isdigit():
        return text
    return text[:_MIN_PREFIX_LEN]


def _word_index(words: Sequence[str]) -> dict[str, list[int]]:
    """Positions of the words under each key a token may look them up by."""
    index: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        index.setdefault(word, []).append(i)  # whole words, for short tokens and numbers
        if len(word) >= _MIN_PREFIX_LEN and not word.isdigit():
            prefix = word[:_MIN_PREFIX_LEN]
            if prefix != word:
                index.setdefault(prefix, []).append(i)
    return index


@lru_cache(maxsize=4096)
def _keyword_tokens(keyword: str) -> tuple[str, ...]:
    return tuple(normalize_text(keyword).split())


_SUBJECT_WEIGHT = 2
_TEXT_WEIGHT = 1


def guess_competence(
    subject: str, text: str, competences: Sequence[CompetenceInfo]
) -> tuple[CompetenceInfo | None, list[str]]:
    """Return the competence whose keywords best match, and the keywords that matched.

    Each keyword scores once for the subject (double weight) and once for the
    text. The highest score wins; a tie goes to the competence listed first in
    the catalogue. Returns (None, []) when no keyword matches: a catch-all
    "general consultation" area is for people to choose, not for guessing.
    """
    subject_words = normalize_text(subject).split()
    text_words = normalize_text(text).split()
    subject_index, text_index = _word_index(subject_words), _word_index(text_words)
    best: CompetenceInfo | None = None
    best_score = 0
    best_matched: list[str] = []
    for competence in competences:
        score = 0
        matched: list[str] = []
        for keyword in competence.keywords:
            tokens = _keyword_tokens(keyword)
            hit = False
            if _keyword_in(tokens, subject_words, subject_index):
                score += _SUBJECT_WEIGHT
                hit = True
            if _keyword_in(tokens, text_words, text_index):
                score += _TEXT_WEIGHT
                hit = True
            if hit:
                matched.append(keyword)
        if score > best_score:
            best, best_score, best_matched = competence, score, matched
    return best, best_matched


# --- institution codes in text -----------------------------------------------

# A phone number: a leading 0 or the country code, then 8 or 9 more digits,
# possibly split by spaces, dashes, slashes, dots or brackets.
_PHONE = re.compile(r"(?<![\d\w])(?:(?:\+|00)\s?359|0)(?:[\s\-/.()]{0,2}\d){8,9}(?!\d)")

# A digit run standing on its own: not glued to letters, and not one part of a
# date, a ticket reference (26-000123) or a decimal number.
_NUMBER = re.compile(r"(?<![\d\w])(?<![\d][.\-/,:])(\d{1,7})(?![\d\w])(?![.\-/,:]\d)")

_CODE_MARKER = re.compile(r"\b(?:код\w{0,3}|code|неиспуо|id)\b", re.IGNORECASE)
# Words after which a number is something else: postal codes, phones,
# document numbers and the like. The nearer marker before a number wins.
_OTHER_MARKER = re.compile(
    r"(?:\bгр\.|\bград\b|\bп\.\s?к\.|\bпк\b|\bпощенски\s+код\b|\bтел\b\.?|\bтелефон\w*|"
    r"\bgsm\b|\bмоб\w*|\bфакс\b|\bизх\b\.?|\bвх\b\.?|\bрег\b\.?|\bзаповед\w*|\bегн\b|"
    r"\bеик\b|\bбулстат\b|\bстая\b|\bклас\b)",
    re.IGNORECASE,
)
# Units and words after which a number is an amount, not a code.
_UNIT_AFTER = re.compile(
    r"\s?(?:лв|лева|bgn|eur|евро|€|%|kb|mb|gb|кб|мб|байт|ученик|деца|души|стр)",
    re.IGNORECASE,
)

_MARKER_WINDOW = 30
_WEAK_MIN_DIGITS = 6
_STRONG_MIN_DIGITS = 4


def _last_end(pattern: re.Pattern[str], s: str) -> int:
    ends = [m.end() for m in pattern.finditer(s)]
    return ends[-1] if ends else -1


def _is_year(digits: str) -> bool:
    return len(digits) == 4 and 1900 <= int(digits) <= 2099


def find_institution_code(text: str) -> list[str]:
    """Return the НЕИСПУО institution codes found in `text`, the most likely first.

    Codes right after "код", "НЕИСПУО" or "code" (within a few words) come
    first, then other stand-alone numbers of 6 or 7 digits. Phone numbers,
    dates, years, amounts, ticket references such as 26-000123 and postal
    codes after "гр." or "п.к." are left out. Each code appears once.
    """
    text = unicodedata.normalize("NFC", text)
    masked = _PHONE.sub(lambda m: " " * len(m.group()), text)
    strong: list[str] = []
    weak: list[str] = []
    for m in _NUMBER.finditer(masked):
        digits = m.group(1)
        if _is_year(digits) or _UNIT_AFTER.match(masked, m.end()):
            continue
        window = masked[max(0, m.start() - _MARKER_WINDOW) : m.start()]
        # A marker only counts if no other number stands between it and this one.
        window = re.split(r"\d", window)[-1]
        code_at = _last_end(_CODE_MARKER, window)
        other_at = _last_end(_OTHER_MARKER, window)
        if code_at > other_at and len(digits) >= _STRONG_MIN_DIGITS:
            strong.append(digits)
        elif other_at < 0 and len(digits) >= _WEAK_MIN_DIGITS and not digits.startswith("0"):
            weak.append(digits)
    return list(dict.fromkeys(strong + weak))


# --- institution -------------------------------------------------------------


def _sender_domain(sender_email: str | None) -> str | None:
    if not sender_email:
        return None
    address = parseaddr(sender_email)[1] or sender_email
    if "@" not in address:
        return None
    domain = address.rsplit("@", 1)[1].strip().strip(">").rstrip(".").lower()
    return domain or None


def _candidate_domains(domain: str) -> list[str]:
    """Return `domain` and its parents down to two labels, or [] for shared domains."""
    labels = domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    if any(c in SHARED_MAIL_DOMAINS for c in candidates):
        return []
    return candidates


# An official institutional profile such as info-2206409@edu.mon.bg carries the
# institution's code at the end of its local part.
_CODE_IN_ADDRESS = re.compile(r"(?:^|[.\-_+])(\d{3,7})@")


def resolve_institution(
    facts: RequestFacts, directory: Directory
) -> tuple[InstitutionInfo | None, str]:
    """Return the requester's institution and the reason it was chosen.

    In order: the institution given in the facts; the one owning the sender's
    mail domain or a parent domain (shared public domains such as abv.bg say
    nothing); the one whose code ends the sender address's local part
    (info-2206409@edu.mon.bg); the first code in the subject or text that
    exists in the directory. Returns (None, reason) if none applies.
    """
    if facts.institution is not None:
        return facts.institution, f"institution {facts.institution.code} given with request"

    domain = _sender_domain(facts.sender_email)
    if domain:
        for candidate in _candidate_domains(domain):
            institution = directory.institution_by_domain(candidate)
            if institution is not None:
                return institution, f"institution {institution.code} from sender domain {candidate}"
        m = _CODE_IN_ADDRESS.search(parseaddr(facts.sender_email)[1])
        if m:
            institution = directory.institution_by_code(m.group(1))
            if institution is not None:
                return institution, f"institution {institution.code} from sender address"

    unknown_codes: list[str] = []
    for code in find_institution_code(f"{facts.subject}\n{facts.text}"):
        institution = directory.institution_by_code(code)
        if institution is not None:
            return institution, f"institution {institution.code} from code in text"
        unknown_codes.append(code)
    if unknown_codes:
        return None, "institution unknown: code " + ", ".join(unknown_codes) + " not in directory"
    return None, "institution unknown"


# --- assignee ----------------------------------------------------------------


def _available(agent: AgentInfo) -> bool:
    return not agent.absent and agent.open_load < agent.capacity


def _describe_unavailable(pool: Sequence[AgentInfo]) -> str:
    absent = sum(1 for a in pool if a.absent)
    full = sum(1 for a in pool if not a.absent and a.open_load >= a.capacity)
    return f"{len(pool)} qualified, {absent} absent, {full} at capacity"


def _rotation_key(agent: AgentInfo) -> tuple[Fraction, float, int]:
    # Fractions make 3/6 and 1/2 an exact tie. Never-assigned agents sort
    # first, then the one assigned longest ago (round robin).
    ratio = Fraction(agent.open_load, agent.capacity)
    last = agent.last_assigned_at
    return ratio, last.timestamp() if last else float("-inf"), agent.id


def pick_assignee(
    candidates: Sequence[AgentInfo],
    region_code: str | None,
    competence: CompetenceInfo,
    previous_assignee_id: int | None,
) -> tuple[AgentInfo | None, str]:
    """Return the agent to take the ticket, or None, and the reason.

    Regional tier: regional agents of `region_code` holding the competence.
    Central tier: central agents holding it, or every central agent if none
    holds it. Absent agents and agents at or over capacity are skipped. The
    requester's previous agent wins if qualified and available; otherwise the
    lowest load to capacity ratio, then the least recently assigned (never
    assigned counts as oldest), then the lowest id.
    """
    scope: str
    if competence.tier == TIER_CENTRAL:
        central = [a for a in candidates if a.tier == TIER_CENTRAL]
        pool = [a for a in central if competence.code in a.competences]
        scope = f"central agents with {competence.code}"
        if not pool:
            pool = central
            scope = f"central agents (none holds {competence.code})"
    else:
        if region_code is None:
            return None, "no assignee: region unknown"
        pool = [
            a
            for a in candidates
            if a.tier == TIER_REGIONAL
            and a.region_code == region_code
            and competence.code in a.competences
        ]
        scope = f"experts of region {region_code} with {competence.code}"

    if not pool:
        return None, f"no assignee: no {scope}"
    available = [a for a in pool if _available(a)]
    if not available:
        return None, f"no assignee among {scope}: {_describe_unavailable(pool)}"

    if previous_assignee_id is not None:
        for agent in available:
            if agent.id == previous_assignee_id:
                return agent, (
                    f"assigned to {agent.name}: previous assignee of requester, "
                    f"load {agent.open_load}/{agent.capacity}"
                )

    agent = min(available, key=_rotation_key)
    return agent, (
        f"assigned to {agent.name}: load {agent.open_load}/{agent.capacity}, "
        f"least loaded of {len(available)} {scope}"
    )


# --- the whole decision ------------------------------------------------------


def _chosen_competence(
    facts: RequestFacts, competences: Sequence[CompetenceInfo], reasons: list[str]
) -> CompetenceInfo | None:
    if facts.competence_code:
        for competence in competences:
            if competence.code == facts.competence_code:
                reasons.append(f"competence {competence.code} chosen by requester")
                return competence
        reasons.append(
            f"competence {facts.competence_code} chosen by requester is not in catalogue"
        )
    competence, matched = guess_competence(facts.subject, facts.text, competences)
    if competence is None:
        reasons.append("competence not recognised")
        return None
    quoted = ", ".join(f"'{k}'" for k in matched)
    reasons.append(f"competence {competence.code} from keywords {quoted}")
    return competence


def route(
    facts: RequestFacts,
    directory: Directory,
    competences: Sequence[CompetenceInfo],
    agents: Sequence[AgentInfo],
) -> Decision:
    """Return the routing decision for a request: region, competence, tier, assignee, queue.

    Competences of the central tier (technical faults) go to central support
    whatever the region, which is still recorded. An unknown competence, or
    an unknown region for a regional competence, sends the ticket to triage.
    A known region and competence with nobody available leaves it unassigned
    in the competence queue.
    """
    reasons: list[str] = []
    institution, why = resolve_institution(facts, directory)
    reasons.append(why)
    region_code = institution.region_code if institution else None
    if institution is not None:
        reasons.append(f"region {region_code} from institution {institution.code}")
    else:
        reasons.append("region unknown")

    competence = _chosen_competence(facts, competences, reasons)

    def decide(tier: str, assignee: AgentInfo | None, queue: str) -> Decision:
        return Decision(
            region_code=region_code,
            competence_code=competence.code if competence else None,
            tier=tier,
            assignee_id=assignee.id if assignee else None,
            queue=queue,
            institution=institution,
            reasons=tuple(reasons),
        )

    if competence is None:
        reasons.append("triage: competence not recognised")
        return decide(TIER_REGIONAL, None, QUEUE_TRIAGE)

    tier = TIER_CENTRAL if competence.tier == TIER_CENTRAL else TIER_REGIONAL
    reasons.append(f"tier {tier} from competence {competence.code}")
    if tier == TIER_REGIONAL and region_code is None:
        reasons.append("triage: region unknown")
        return decide(tier, None, QUEUE_TRIAGE)

    assignee, why = pick_assignee(agents, region_code, competence, facts.previous_assignee_id)
    reasons.append(why)
    if assignee is None:
        return decide(tier, None, QUEUE_COMPETENCE)
    return decide(tier, assignee, QUEUE_ASSIGNED)
