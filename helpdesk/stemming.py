"""A light stemmer for Bulgarian (and a very light one for English) for search and similarity.

It is not a linguistic stemmer: it strips the common inflectional endings
(plural, definite article, gender) so that "дипломата", "дипломи" and
"диплома" all become "диплом". Both the indexed text and the query go through
the same function, so a stem only has to be consistent, not correct.
"""

import re
import unicodedata

# Longest first: the first ending that fits (and leaves a long enough stem) wins.
# The definite article after a vowel is covered by the combined endings (-ата,
# -ото, -ите, ...). A bare -та/-то/-те after a consonant is left alone: far
# more often it belongs to the stem (работа, място, мостове) than to an article.
BULGARIAN_SUFFIXES = (
    "овете",
    "ията",
    "ието",
    "иите",
    "ите",
    "ата",
    "ото",
    "ето",
    "ята",
    "ият",
    "ове",
    "ия",
    "ии",
    "ие",
    "ът",
    "ят",
    "и",
    "а",
    "я",
    "о",
    "е",
    "ъ",
)
MIN_STEM = 3

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# Words are runs of letters and digits; "_" is not a word character for search.
WORD = re.compile(r"[^\W_]+", re.UNICODE)


def normalize(word: str) -> str:
    """Return `word` lower-cased and in composed Unicode form (й stays й)."""
    return unicodedata.normalize("NFC", word).lower().replace("ѝ", "и")


def stem(word: str) -> str:
    """Return the search stem of one word (lower case; digits are kept as they are)."""
    word = normalize(word)
    if len(word) <= MIN_STEM or word.isdigit():
        return word
    if _CYRILLIC.search(word):
        return _stem_bulgarian(word)
    return _stem_english(word)


def _stem_bulgarian(word: str) -> str:
    for suffix in BULGARIAN_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            word = word[: -len(suffix)]
            break
    # Plurals soften a final к to ц (ученик → ученици); fold both to one stem.
    if word.endswith("ц"):
        word = word[:-1] + "к"
    return word


def _stem_english(word: str) -> str:
    if word.endswith("ies") and len(word) - 3 >= MIN_STEM:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    # Words reaching here are longer than MIN_STEM, so a stem without the s is long enough.
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Return the words of `text` in order, as written."""
    return WORD.findall(text or "")


def stems(text: str) -> list[str]:
    """Return the stems of the words of `text`, in order."""
    return [stem(w) for w in words(text)]


def stemmed_text(text: str) -> str:
    """Return `text` as a space-separated line of stems, ready for a full-text index."""
    return " ".join(stems(text))
