"""helpdesk.egn: which ten-digit numbers are personal numbers, and how they are masked."""

import datetime
import time

import pytest

from helpdesk import egn

# Valid ЕГН (a real date, the right check digit), one per kind of date.
VALID = {
    "7523169263": datetime.date(1875, 3, 16),  # month + 20: born in the 1800s
    "8032056031": datetime.date(1880, 12, 5),
    "7542011030": datetime.date(2075, 2, 1),  # month + 40: born from 2000 on
    "0625011236": datetime.date(1806, 5, 1),  # month + 20: 1800s
    "4412317776": datetime.date(1944, 12, 31),
    "0042295002": datetime.date(2000, 2, 29),  # 2000 was a leap year
    "0001010003": datetime.date(1900, 1, 1),
    "9912319992": datetime.date(1999, 12, 31),
}


@pytest.mark.parametrize("number", sorted(VALID))
def test_valid_numbers(number):
    assert egn.is_valid(number)
    assert egn.birth_date(number) == VALID[number]


@pytest.mark.parametrize(
    "number, why",
    [
        ("7523169264", "check digit off by one"),
        ("8032056032", "check digit off by one"),
        ("0042295003", "check digit off by one"),
        ("8502290004", "29 February 1985 does not exist"),
        ("0002295003", "1900 was not a leap year"),
        ("9999999992", "month 99"),
        ("1234567890", "month 34"),
        ("0123456780", "month 23 but day 45"),
        ("0113000000", "month 13"),
        ("0100010000", "month 0"),
        ("0101000000", "day 0"),
        ("0888123456", "a mobile phone number: month 88"),
        ("0878123456", "a mobile phone number: month 78"),
        ("0988123456", "a mobile phone number: month 88"),
        ("752316926", "nine digits"),
        ("75231692630", "eleven digits"),
        ("752316926a", "a letter"),
        ("７５２３１６９２６３", "full-width digits are not ASCII"),
        ("", "empty"),
    ],
)
def test_invalid_numbers(number, why):
    assert not egn.is_valid(number), why


@pytest.mark.parametrize(
    "text, expected, count",
    [
        # Plain ten digits wherever they stand, touching letters or punctuation.
        ("7523169263", "**********", 1),
        ("ЕГН 7523169263", "ЕГН **********", 1),
        ("ЕГН:7523169263.", "ЕГН:**********.", 1),
        ("ЕГН7523169263", "ЕГН**********", 1),
        ("(7523169263)", "(**********)", 1),
        ("диплома_7523169263.pdf", "диплома_**********.pdf", 1),
        ("ученик 7523169263 и ученик 8032056031", "ученик ********** и ученик **********", 2),
        ("7523169263\n8032056031", "**********\n**********", 2),
        # Grouped digits only right after the word ЕГН / EGN.
        ("ЕГН 752316 926 3", "ЕГН ****** *** *", 1),
        ("егн: 7523-16-9263", "егн: ****-**-****", 1),
        ("EGN № 75.23.16.9263", "EGN № **.**.**.****", 1),
        ("Egn 7523 1692 63 е на детето", "Egn **** **** ** е на детето", 1),
        # Left alone: wrong check digit or date, phones, codes, longer runs.
        ("ЕГН 7523169264", "ЕГН 7523169264", 0),
        ("родена на 29.02.1985, ЕГН 8502290004", "родена на 29.02.1985, ЕГН 8502290004", 0),
        ("тел. 0888123456", "тел. 0888123456", 0),
        ("тел. 0888 123 456", "тел. 0888 123 456", 0),
        ("+359888123456", "+359888123456", 0),
        ("код по НЕИСПУО 2206409", "код по НЕИСПУО 2206409", 0),
        ("2206409 1600101", "2206409 1600101", 0),
        ("75231692631", "75231692631", 0),
        ("17523169263", "17523169263", 0),
        ("BG80BNBG96611020345678", "BG80BNBG96611020345678", 0),
        ("752316 926 3", "752316 926 3", 0),  # grouped, without the word
        ("ЕГН 752316  9263", "ЕГН 752316  9263", 0),  # two spaces: not one number
        ("ЕГН 7523 16 9263 12", "ЕГН **** ** **** 12", 1),
        ("", "", 0),
    ],
)
def test_mask(text, expected, count):
    assert egn.mask(text) == (expected, count)


def test_mask_keeps_the_length_and_everything_but_the_digits():
    text = "Здравейте, ЕГН на ученика е 7523169263, тел. 0888123456."
    masked, count = egn.mask(text)
    assert count == 1
    assert len(masked) == len(text)
    assert "7523169263" not in masked
    assert masked.replace("**********", "7523169263") == text


def test_find_reports_positions_and_digits():
    text = "a 7523169263 b ЕГН 803205 603 1"
    found = egn.find(text)
    assert [f.digits for f in found] == ["7523169263", "8032056031"]
    assert [text[f.start : f.end] for f in found] == ["7523169263", "803205 603 1"]


def test_none_and_text_without_numbers():
    assert egn.mask(None) == (None, 0)
    assert egn.mask("Дневникът не се отваря.") == ("Дневникът не се отваря.", 0)
    assert egn.find("") == []


@pytest.mark.parametrize(
    "unit",
    ["7523169264 ", "1" * 10_000, "ЕГН " * 1000, "ЕГН 1 2 3 4 5 6 7 8 9 " * 500, "0888123456 "],
)
def test_linear_time(unit):
    # Twenty times the text takes about twenty times as long, not four hundred.
    small, large = unit * 20, unit * 400
    start = time.perf_counter()
    egn.mask(small)
    first = time.perf_counter() - start
    start = time.perf_counter()
    _masked, count = egn.mask(large)
    second = time.perf_counter() - start
    assert count == 0
    assert second < max(first, 1e-4) * 20 * 5
