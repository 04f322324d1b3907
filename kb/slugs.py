"""Latin slugs from Bulgarian text (the official streamlined transliteration)."""

from __future__ import annotations

from django.utils.text import slugify

# Закон за транслитерацията (2009); "ъ" is "a", "щ" is "sht", "ю" is "yu".
_TRANSLIT = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sht",
    "ъ": "a",
    "ь": "y",
    "ю": "yu",
    "я": "ya",
    "ѝ": "i",
}


def transliterate(text: str) -> str:
    """Return `text` with Bulgarian Cyrillic letters written in Latin (lower case)."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in (text or "").lower())


def slugify_text(text: str, max_length: int = 80) -> str:
    """Return an ASCII slug of `text` (may be empty), cut at a word boundary."""
    slug = slugify(transliterate(text))
    if len(slug) > max_length:
        slug = slug[:max_length].rsplit("-", 1)[0]
    return slug
