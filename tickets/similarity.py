"""Similar requests: a compact signature per request, a pure ranking core, a candidate query.

A request's *signature* is the ordered, de-duplicated list of content stems of
its subject and first message (helpdesk.stemming), after personal numbers
(ЕГН) are masked and mail noise (quoted lines, signatures, greetings) is cut.
It is stored once per request (TicketSignature, written on filing) so that
finding similar requests never re-reads message bodies.

Two signatures are compared by a weighted, symmetric overlap: a term of one
side counts when the other side has the same stem, a stem with the same
first five letters (verb forms the light stemmer leaves apart: регистрирам /
регистрирахме) or one within one edit (typos: парола / пaрола / пароло).
Generic words of the helpdesk (НЕИСПУО, училище, проблем) weigh little, so two
different problems that share them score low. All lookups are set lookups:
scoring a pair costs a few dozen hash probes.

The candidate query pre-filters by time window, competence, region or
institution and status over the signature table's own indexes, then ranks
the few hundred rows in Python. Callers that show results to a person pass
the person, and only requests `Ticket.objects.visible_to()` them are returned.
"""

from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from helpdesk import egn
from helpdesk.stemming import stem, words
from tickets.models import OPEN_STATUSES, SimilarShown, Status, Ticket, TicketSignature

# Terms kept per request: the subject's first, then the message's.
MAX_TERMS = 32
# Letters two stems must share at the start to count as the same word.
PREFIX = 5
# Weights: an exact stem, a shared prefix or a one-letter typo.
EXACT, FUZZY = 1.0, 0.8
# The score from which two requests are "similar" (tuned by bench/bench_similarity.py).
THRESHOLD = 0.5

# Function words and politeness: never a term.
STOPWORDS = frozenset(
    stem(w)
    for w in """
    а аз ако али без би бе беше бил била били било бъде в във вас ваш ваша вашия ви вие
    все всеки всички всичко вече все още където където ги го да дали два две до докато
    днес ето за защо заради и или им има имам имаме има ли й как каква какви какво както
    като кога когато кое кои кой който която които което коя към ли ме между мен ми
    много може можем мога мое мой моля му на над най нас наш наша не него нея ни ние
    никой нищо но някой някои нещо ня обаче около от отново още пак по под поради при
    против с са сам само се сега си след смe със също та така там те тези ти то този
    той тук тя у уважаеми уважаема уважаеми уважаемa че чрез ще ще бъде я
    няма нямам нямаме това тази този тия вчера сутрин сутринта следобед вечерта получава
    edu mon gov www http https
    егн egn здравейте здравей добър ден добро утро поздрави поздрав благодаря благодарим предварително
    колеги колега г-жо г-н госпожо господин моля помогнете помощ съдействие спешно спешна
    уважение опитахме опитах няколко пъти успех прилагам приложено снимка снимки екрана екран
    скрийншот случва случи става днес вече отново пак нещо някак
    the a an and or to of in on for is are be it this that with we i you please hello thanks
    """.split()
)
# Words of every helpdesk request: they weigh little.
GENERIC = frozenset(
    stem(w)
    for w in """
    неиспуо система системата модул модула училище училището училища учебно заведение
    институция институцията детска градина проблем проблема проблеми въпрос въпроса
    грешка грешки грешката работи работа става направя направим правя
    година годината учебната учебна нашето нашата наш наша
    """.split()
)
GENERIC_WEIGHT = 0.25
# Words for one thing that share no stem (a verb and its noun, Latin and
# Cyrillic): each stem on the left is read as the one on the right.
SYNONYMS = {
    stem(word): stem(target)
    for target, variants in {
        "вход": "влез вляза влезна влизам влиза влизане влязох влезе login log",
        "парола": "password паролата пароли",
        "печат": "отпечатам отпечата отпечатва отпечатване разпечатам принтира",
        "липсва": "липсват изчезнаха изчезна",
        "профил": "акаунт account профили",
        "ученик": "ученика ученици учениците",
        "грешка": "error",
    }.items()
    for word in variants.split()
}

_QUOTED = re.compile(r"^\s*>")
_SIGNATURE = re.compile(
    r"^\s*(--\s*$|__+|-----|Sent from|Изпратено от|От:|From:|On .* wrote:|На .* написа:"
    r"|С уважение|Поздрав|Best regards|Regards|Kind regards)",
    re.IGNORECASE,
)


def strip_noise(text: str) -> str:
    """Return `text` without quoted lines, a signature and what follows a forwarded header."""
    kept = []
    for line in (text or "").splitlines():
        if _SIGNATURE.match(line):
            break
        if _QUOTED.match(line):
            continue
        kept.append(line)
    return "\n".join(kept)


def terms(subject: str, text: str = "") -> tuple[str, ...]:
    """Return the signature of a request: its content stems, subject first, at most MAX_TERMS."""
    masked, _count = egn.mask(f"{subject or ''}\n{strip_noise(text)}")
    out: dict[str, None] = {}
    for word in words(masked):
        if word.isdigit() or "*" in word:
            continue
        term = stem(word)
        if term in STOPWORDS:
            continue
        term = SYNONYMS.get(term, term)
        if len(term) < 3:
            continue
        out.setdefault(term, None)
        if len(out) >= MAX_TERMS:
            break
    return tuple(out)


def _deletions(term: str) -> set[str]:
    return {term[:i] + term[i + 1 :] for i in range(len(term))}


@dataclass(frozen=True)
class Signature:
    """A request's terms with the lookup sets that make fuzzy matching set probes."""

    terms: tuple[str, ...]
    exact: frozenset[str] = field(init=False)
    prefixes: frozenset[str] = field(init=False)
    deletions: frozenset[str] = field(init=False)

    def __post_init__(self):
        long_terms = [t for t in self.terms if len(t) >= PREFIX]
        object.__setattr__(self, "exact", frozenset(self.terms))
        object.__setattr__(self, "prefixes", frozenset(t[:PREFIX] for t in long_terms))
        dels: set[str] = set()
        for t in long_terms:
            dels.add(t)
            dels |= _deletions(t)
        object.__setattr__(self, "deletions", frozenset(dels))

    @classmethod
    def of(cls, value: Signature | Iterable[str] | str) -> Signature:
        if isinstance(value, Signature):
            return value
        if isinstance(value, str):
            value = value.split()
        return cls(tuple(value))


def weight(term: str) -> float:
    return GENERIC_WEIGHT if term in GENERIC else 1.0


def _match(term: str, other: Signature) -> float:
    if term in other.exact:
        return EXACT
    if len(term) < PREFIX:
        return 0.0
    if term[:PREFIX] in other.prefixes:
        return FUZZY
    if term in other.deletions or not _deletions(term).isdisjoint(other.deletions):
        return FUZZY
    return 0.0


def _covered(one: Signature, other: Signature) -> tuple[float, float]:
    total = matched = 0.0
    for term in one.terms:
        w = weight(term)
        total += w
        matched += w * _match(term, other)
    return matched, total


def score(a, b) -> float:
    """Return how alike two signatures are, 0 (nothing shared) to 1 (the same terms).

    `a` and `b` are Signatures, term sequences or space-separated term lines.
    """
    a, b = Signature.of(a), Signature.of(b)
    if not a.terms or not b.terms:
        return 0.0
    matched_a, total_a = _covered(a, b)
    matched_b, total_b = _covered(b, a)
    return round((matched_a + matched_b) / (total_a + total_b), 4)


def _shares_a_word(query: Signature, terms: Sequence[str]) -> bool:
    """Whether any term is the same stem as, or has the five-letter start of, a query term.

    A candidate with neither can match by typos alone, never by enough to be similar.
    """
    return any(t in query.exact or t[:PREFIX] in query.prefixes for t in terms)


def rank(query, candidates: Iterable[tuple[object, object]], *, threshold=THRESHOLD, limit=10):
    """Return [(key, score)] of the candidates (key, signature) scoring at least `threshold`.

    Best first; ties keep the candidates' order (callers pass newest first).
    """
    query = Signature.of(query)
    scored = []
    for position, (key, signature) in enumerate(candidates):
        if isinstance(signature, str) and not _shares_a_word(query, signature.split()):
            continue  # the cheap test first: most candidates share no word at all
        value = score(query, signature)
        if value >= threshold:
            scored.append((-value, position, key, value))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [(key, value) for _neg, _pos, key, value in scored[:limit]]


def cluster(items: Sequence[tuple[object, object]], *, threshold=THRESHOLD, compare_last=30):
    """Group (key, signature) items, in arrival order, into clusters of similar ones.

    Each item joins the cluster with the best-matching member among its first
    one and its latest `compare_last`, when that match reaches `threshold`;
    otherwise it starts a cluster. Returns lists of keys, in arrival order.

    An item is scored only against the clusters that share a word with it
    (the same stem, or the same five-letter start: the test `rank` applies
    to candidates), found in an index of the clusters' words. Ordinary
    traffic is mostly unrelated requests, one cluster each, and scoring every
    newcomer against every one of them grew with the square of the requests.
    """
    clusters: list[list[tuple[object, Signature]]] = []
    by_word: dict[str, set[int]] = {}  # a stem or a five-letter start -> cluster indexes
    for key, signature in items:
        signature = Signature.of(signature)
        candidates: set[int] = set()
        for probe in signature.exact | signature.prefixes:
            candidates |= by_word.get(probe, set())
        best, best_score = None, threshold
        for index in sorted(candidates):  # in creation order: on a tie the newer cluster wins
            group = clusters[index]
            members = [group[0]] + group[-compare_last:]
            value = max(score(signature, other) for _k, other in members)
            if value >= best_score:
                best, best_score = index, value
        if best is None:
            best = len(clusters)
            clusters.append([(key, signature)])
        else:
            clusters[best].append((key, signature))
        for term in signature.terms:
            by_word.setdefault(term, set()).add(best)
            by_word.setdefault(term[:PREFIX], set()).add(best)
    return [[key for key, _sig in group] for group in clusters]


def common_terms(signatures: Iterable, limit: int = 8) -> tuple[str, ...]:
    """Return the terms most members of a cluster share, most shared first."""
    counts: dict[str, int] = {}
    for signature in signatures:
        for term in Signature.of(signature).terms:
            counts[term] = counts.get(term, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1] * weight(item[0]), item[0]))
    return tuple(term for term, _n in ordered[:limit])


# --- the database side ----------------------------------------------------------------

# How far back the candidate query looks, and how many rows it ranks at most.
OPEN_WINDOW = datetime.timedelta(days=60)
RESOLVED_WINDOW = datetime.timedelta(days=120)
CANDIDATES = 600


def index(ticket, text: str, *, new: bool = False) -> tuple[str, ...]:
    """Store (or refresh) the signature of `ticket` from its subject and first message; return it.

    `new`: the ticket was just inserted and has no signature yet (one INSERT).
    """
    found = terms(ticket.subject, text)
    values = {
        "terms": " ".join(found),
        "competence_id": ticket.competence_id,
        "region_id": ticket.region_id,
        "institution_id": ticket.institution_id,
        "created_at": ticket.created_at,
    }
    if new:
        TicketSignature.objects.create(ticket_id=ticket.pk, **values)
    else:
        TicketSignature.objects.update_or_create(ticket_id=ticket.pk, defaults=values)
    return found


def moved(ticket) -> None:
    """Keep the signature's copy of the competence and region in step with the ticket."""
    TicketSignature.objects.filter(ticket_id=ticket.pk).update(
        competence_id=ticket.competence_id, region_id=ticket.region_id
    )


@dataclass(frozen=True)
class Similar:
    """One similar request and how alike it is (0..1)."""

    ticket: object
    score: float


def candidates(
    *,
    competence_id=None,
    region_id=None,
    institution_id=None,
    open_only: bool = False,
    exclude_id=None,
    now=None,
    limit: int = CANDIDATES,
):
    """Return the candidate signature rows, newest first: [(ticket_id, terms)].

    Open requests of the last OPEN_WINDOW and requests resolved within
    RESOLVED_WINDOW, of the competence / region / institution given; merged
    requests never. One indexed range scan over the signature table.
    """
    now = now or timezone.now()
    rows = TicketSignature.objects.filter(created_at__gte=now - RESOLVED_WINDOW)
    if competence_id is not None:
        rows = rows.filter(competence_id=competence_id)
    if region_id is not None:
        rows = rows.filter(region_id=region_id)
    if institution_id is not None:
        rows = rows.filter(institution_id=institution_id)
    if exclude_id is not None:
        rows = rows.exclude(ticket_id=exclude_id)
    is_open = Q(ticket__status__in=OPEN_STATUSES, created_at__gte=now - OPEN_WINDOW)
    resolved = Q(
        ticket__status__in=(Status.RESOLVED, Status.CLOSED),
        ticket__resolved_at__gte=now - RESOLVED_WINDOW,
    )
    rows = rows.filter(is_open if open_only else is_open | resolved)
    rows = rows.filter(ticket__merged_into__isnull=True)
    return list(rows.order_by("-created_at").values_list("ticket_id", "terms")[:limit])


def similar_to_text(
    subject: str,
    text: str,
    *,
    user=None,
    within=None,
    competence_id=None,
    region_id=None,
    institution_id=None,
    open_only: bool = False,
    exclude_id=None,
    threshold=THRESHOLD,
    limit: int = 5,
    now=None,
) -> list[Similar]:
    """Return the requests most like (subject, text) that `user` may see, best first.

    `within` (a Ticket queryset) replaces what the user may see: the portal
    shows a colleague's open requests of the person's own institution, which
    they may follow without seeing them yet.
    """
    query = Signature.of(terms(subject, text))
    if not query.terms:
        return []
    rows = candidates(
        competence_id=competence_id,
        region_id=region_id,
        institution_id=institution_id,
        open_only=open_only,
        exclude_id=exclude_id,
        now=now,
    )
    ranked = rank(query, rows, threshold=threshold, limit=limit * 3)
    if not ranked:
        return []
    scope = within if within is not None else Ticket.objects.visible_to(user)
    visible = scope.filter(pk__in=[pk for pk, _s in ranked])
    tickets = {t.pk: t for t in visible.select_related("competence", "institution")}
    out = [Similar(tickets[pk], value) for pk, value in ranked if pk in tickets]
    return out[:limit]


def similar_to_ticket(ticket, *, user, limit: int = 8, now=None) -> list[Similar]:
    """Return the open and recently resolved requests most like `ticket` that `user` may see."""
    row = TicketSignature.objects.filter(ticket_id=ticket.pk).values_list("terms", flat=True)
    stored = row.first()
    if stored is None:
        first = ticket.messages.order_by("created_at", "id").values_list("body_text", flat=True)
        stored = " ".join(terms(ticket.subject, first.first() or ""))
    query = Signature.of(stored)
    if not query.terms:
        return []
    rows = candidates(competence_id=ticket.competence_id, exclude_id=ticket.pk, now=now)
    ranked = rank(query, rows, limit=limit * 3)
    visible = Ticket.objects.visible_to(user).filter(pk__in=[pk for pk, _s in ranked])
    tickets = {t.pk: t for t in visible.select_related("competence", "institution", "assignee")}
    return [Similar(tickets[pk], value) for pk, value in ranked if pk in tickets][:limit]


# --- what the filing form showed, and what the person did ---------------------------

MAX_SHOWN = 20


def record_shown(user, institution_id: int, ticket_ids, query: str, token: str = "") -> str:
    """Record that the filing form showed `ticket_ids` as similar; return the record's token.

    The token of an earlier call from the same form adds to that record
    (people type in several steps). Returns "" when nothing was shown and
    there is nothing to add to.
    """
    ids = [int(pk) for pk in list(ticket_ids)[:MAX_SHOWN]]
    with transaction.atomic():
        record = _open_record(token, user)
        if record is None:
            if not ids:
                return ""
            record = SimilarShown.objects.create(
                token=secrets.token_hex(16),
                user=user,
                institution_id=institution_id,
                query=(query or "")[:500],
            )
        elif query:
            record.query = query[:500]
            record.save(update_fields=["query"])
        if ids:
            record.shown.add(*Ticket.objects.filter(pk__in=ids))
    return record.token


def _open_record(token: str, user) -> SimilarShown | None:
    if not token:
        return None
    return SimilarShown.objects.filter(
        token=token[:32], user_id=user.pk, followed__isnull=True, filed__isnull=True
    ).first()


def record_followed(token: str, user, ticket) -> bool:
    """Note that the person followed `ticket` (one of those shown) instead of filing."""
    record = _open_record(token, user)
    if record is None or not record.shown.filter(pk=ticket.pk).exists():
        return False
    SimilarShown.objects.filter(pk=record.pk).update(followed=ticket, decided_at=timezone.now())
    return True


def record_filed(token: str, ticket) -> bool:
    """Note that the person filed `ticket` anyway after similar requests were shown."""
    if ticket.requester is None:
        return False
    record = _open_record(token, ticket.requester)
    if record is None:
        return False
    SimilarShown.objects.filter(pk=record.pk).update(filed=ticket, decided_at=timezone.now())
    return True


def filing_figures(since=None) -> dict[str, int]:
    """Return how often similar requests were shown, followed and filed anyway."""
    rows = SimilarShown.objects.all()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    return {
        "shown": rows.count(),
        "followed": rows.filter(followed__isnull=False).count(),
        "filed_anyway": rows.filter(filed__isnull=False).count(),
    }
