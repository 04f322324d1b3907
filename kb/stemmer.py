"""The knowledge base's stemmer: the pure core lives in helpdesk.stemming (tickets share it)."""

from helpdesk.stemming import (
    BULGARIAN_SUFFIXES,
    MIN_STEM,
    WORD,
    normalize,
    stem,
    stemmed_text,
    stems,
    words,
)

__all__ = [
    "BULGARIAN_SUFFIXES",
    "MIN_STEM",
    "WORD",
    "normalize",
    "stem",
    "stemmed_text",
    "stems",
    "words",
]
