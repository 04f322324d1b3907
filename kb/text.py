"""Pure text helpers of knowledge-base search: query parsing, typo matching, snippets.

Nothing here touches the database; the search backends feed it plain strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from helpdesk.stemming import STOPWORDS, WORD, normalize, stem

_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class ParsedQuery:
    """A search query reduced to stems.

    terms: stems of the loose words (stopwords removed), in order;
    phrases: stems of each quoted phrase, word order kept;
    prefix: when True the last term also matches longer stems (typing in progress).
    """

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    prefix: bool = False
    alternatives: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    @property
    def is_empty(self) -> bool:
        return not self.terms and not self.phrases

    def groups(self) -> list[tuple[str, ...]]:
        """Return each loose term with its typo alternatives, the term first."""
        return [(t, *self.alternatives.get(t, ())) for t in self.terms]

    def match_stems(self) -> set[str]:
        """Return every stem a matching word may have (terms, alternatives, phrases)."""
        found = set(self.terms)
        for extra in self.alternatives.values():
            found.update(extra)
        for phrase in self.phrases:
            found.update(phrase)
        return found

    def prefixes(self) -> set[str]:
        """Return the stems that also match as a prefix (the last term while typing)."""
        if self.prefix and self.terms:
            return {self.terms[-1]}
        return set()


def parse_query(text: str, *, prefix: bool = False, max_terms: int = 12) -> ParsedQuery:
    """Return the ParsedQuery of `text`.

    Double-quoted parts become phrases; the rest become loose terms with
    stopwords dropped and repeats removed. `prefix` marks the last term as a
    prefix, but only when the text does not end in a space or a quote (the
    word is still being typed). At most `max_terms` loose terms are kept.
    """
    text = (text or "")[:1000]
    phrases = []
    for chunk in _QUOTED.findall(text):
        phrase = tuple(stem(w) for w in WORD.findall(chunk))
        if phrase:
            phrases.append(phrase)
    loose = _QUOTED.sub(" ", text)
    # An unbalanced quote is just punctuation.
    loose = loose.replace('"', " ")
    terms: list[str] = []
    for word in WORD.findall(loose):
        if normalize(word) in STOPWORDS:
            continue
        stemmed = stem(word)
        if stemmed not in terms:
            terms.append(stemmed)
    terms = terms[:max_terms]
    still_typing = prefix and bool(terms) and not text.endswith((" ", '"', "\n", "\t"))
    if still_typing and normalize(WORD.findall(loose)[-1]) in STOPWORDS:
        still_typing = False
    return ParsedQuery(terms=tuple(terms), phrases=tuple(phrases), prefix=still_typing)


# --- typo tolerance: trigram similarity, computed the way pg_trgm does ----------


def trigrams(word: str) -> set[str]:
    """Return the trigrams of one word, padded as pg_trgm pads them."""
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    """Return the trigram similarity of two words, 0.0 to 1.0 (pg_trgm's similarity())."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def closest_terms(
    term: str, vocabulary, *, threshold: float = 0.3, limit: int = 2
) -> tuple[str, ...]:
    """Return up to `limit` words of `vocabulary` most similar to `term`, best first.

    Only words at least `threshold` similar count; `term` itself is never returned.
    """
    scored = []
    for word in vocabulary:
        if word == term or abs(len(word) - len(term)) > 3:
            continue
        score = similarity(term, word)
        if score >= threshold:
            scored.append((-score, word))
    scored.sort()
    return tuple(word for _score, word in scored[:limit])


# --- highlighting and snippets ---------------------------------------------------


def _is_match(word: str, stems: set[str], prefixes: set[str]) -> bool:
    stemmed = stem(word)
    return stemmed in stems or any(stemmed.startswith(p) for p in prefixes)


def highlight(text: str, stems: set[str], prefixes: set[str] = frozenset()) -> SafeString:
    """Return `text` HTML-escaped with every matching word wrapped in <mark>."""
    out = []
    position = 0
    for match in WORD.finditer(text or ""):
        if _is_match(match.group(), stems, prefixes):
            out.append(escape(text[position : match.start()]))
            out.append(f"<mark>{escape(match.group())}</mark>")
            position = match.end()
    out.append(escape((text or "")[position:]))
    return mark_safe("".join(out))


def snippet(
    text: str, stems: set[str], prefixes: set[str] = frozenset(), width: int = 220
) -> SafeString:
    """Return about `width` characters of `text` around its densest run of matches.

    The cut falls on word boundaries and is marked with an ellipsis; matches
    are highlighted. Without any match, the start of the text is returned.
    """
    text = " ".join((text or "").split())
    if len(text) <= width:
        return highlight(text, stems, prefixes)
    positions = [m.start() for m in WORD.finditer(text) if _is_match(m.group(), stems, prefixes)]
    start = 0
    if positions:
        # The window that holds the most matches; ties go to the earliest.
        best = max(
            positions,
            key=lambda p: (sum(1 for q in positions if p <= q < p + width), -p),
        )
        start = max(0, best - width // 4)
    end = min(len(text), start + width)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < end else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    body = highlight(text[start:end], stems, prefixes)
    return mark_safe(("… " if start > 0 else "") + body + (" …" if end < len(text) else ""))
