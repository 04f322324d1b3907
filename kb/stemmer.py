"""The knowledge base's stemmer: the shared one in helpdesk.stemming (tickets search too)."""

from helpdesk.stemming import (  # noqa: F401  re-exported for kb and its tests
    BULGARIAN_SUFFIXES,
    MIN_STEM,
    STOPWORDS,
    WORD,
    normalize,
    stem,
    stemmed_text,
    stems,
    words,
)
