"""Bulgarian personal numbers (ЕГН) in free text: find them, mask them.

An ЕГН is ten digits YYMMDDNNNC: a date of birth (the month plus 20 for
births in the 1800s, plus 40 for births from 2000 on), three digits of
region and order, and a check digit: the sum of the first nine digits
weighted 2, 4, 8, 5, 10, 9, 7, 3, 6, modulo 11 (10 counts as 0).

What counts as a number written into text, on purpose narrow so that the
numbers a helpdesk sees every day stay as written:

- exactly ten ASCII digits with no digit right before or after them (letters,
  punctuation and spaces may touch them: ``ЕГН:7523169263``, ``scan_7523169263.pdf``);
- or, right after the word ЕГН / EGN (any case, up to five characters of
  punctuation or space between), ten digits in groups separated by single
  spaces, hyphens or dots (``ЕГН 752316 926 3``, ``EGN: 7523-16-9263``).
  Grouped digits without the word are not taken: runs of small numbers
  (dates, counts, table columns) would match too often;
- and only when the date is a real date and the check digit is right.

So phone numbers (0888123456: month 88), НЕИСПУО codes (up to seven digits),
IBANs, longer runs of digits and ten-digit numbers with a wrong date or
check digit are left alone.

A found number becomes as many asterisks as it had digits (separators of a
grouped number stay): the text keeps its length and layout, reads as
"something was hidden here" in any language, and can never be mistaken for a
number. The scan is one pass of a regular expression whose every attempt is
bounded, so the time is linear in the text.

Pure: no Django, no database; ``tickets`` masks what it stores with it.
"""

import datetime
import re
from dataclasses import dataclass

MASK_CHAR = "*"
WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6)

_PATTERN = re.compile(
    r"(?P<word>(?:ЕГН|EGN)[^\w\n]{0,5})(?P<grouped>[0-9](?:[ .\-]?[0-9]){9})(?![0-9])"
    r"|(?<![0-9])(?P<plain>[0-9]{10})(?![0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Found:
    """One personal number in a text: where it is and its ten digits."""

    start: int
    end: int
    digits: str


def birth_date(digits: str) -> datetime.date | None:
    """The date of birth coded in ten digits, or None when it is not a date."""
    year, month, day = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    if month > 40:
        year, month = 2000 + year, month - 40
    elif month > 20:
        year, month = 1800 + year, month - 20
    else:
        year += 1900
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def check_digit(digits: str) -> int:
    """The check digit of the first nine digits."""
    return sum(w * int(d) for w, d in zip(WEIGHTS, digits, strict=False)) % 11 % 10


def is_valid(number: str) -> bool:
    """Whether `number` is exactly ten digits with a real date and the right check digit."""
    if len(number) != 10 or not number.isascii() or not number.isdigit():
        return False
    return birth_date(number) is not None and check_digit(number) == int(number[9])


def find(text: str) -> list[Found]:
    """Every valid personal number in `text`, in order."""
    found = []
    for match in _PATTERN.finditer(text or ""):
        group = "grouped" if match.group("grouped") is not None else "plain"
        digits = "".join(c for c in match.group(group) if c.isdigit())
        if is_valid(digits):
            found.append(Found(match.start(group), match.end(group), digits))
    return found


def mask(text: str) -> tuple[str, int]:
    """Return `text` with each valid personal number's digits masked, and how many there were."""
    if not text:
        return text, 0
    parts = []
    position = 0
    count = 0
    for item in find(text):
        parts.append(text[position : item.start])
        parts.append(re.sub(r"[0-9]", MASK_CHAR, text[item.start : item.end]))
        position = item.end
        count += 1
    if not count:
        return text, 0
    parts.append(text[position:])
    return "".join(parts), count
