"""Table tests of the routing core's word lists and patterns (tickets.routing); no database.

Each entry of each module-level list or pattern has a case of its own here,
written out rather than read from the module, so that dropping an entry from
the module fails a test (``make mutate`` checks this).
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickets.routing import (
    TIER_REGIONAL,
    CompetenceInfo,
    InstitutionInfo,
    RequestFacts,
    StaticDirectory,
    _keyword_in,
    _word_index,
    find_institution_code,
    guess_competence,
    resolve_institution,
)

# --- shared mail domains -------------------------------------------------------

SHARED_DOMAINS = [
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
]

SCHOOL = InstitutionInfo(1, "2206409", "22", ("119sou.bg",))
# A school that put its director's public mailbox among its own domains (or
# the ministry's edu.mon.bg): the router must still not take every sender
# from there for this school.
CARELESS = InstitutionInfo(2, "1600123", "16", tuple(SHARED_DOMAINS))
DIRECTORY = StaticDirectory([SCHOOL, CARELESS])


def facts(sender, text=""):
    return RequestFacts(
        institution=None, competence_code=None, subject="", text=text, sender_email=sender
    )


@pytest.mark.parametrize("domain", SHARED_DOMAINS)
def test_a_shared_mail_domain_says_nothing_about_the_institution(domain):
    assert resolve_institution(facts(f"director@{domain}"), DIRECTORY) == (
        None,
        "institution unknown",
    )
    assert resolve_institution(facts(f"director@{domain}", "код 2206409"), DIRECTORY) == (
        SCHOOL,
        "institution 2206409 from code in text",
    )


@pytest.mark.parametrize("domain", SHARED_DOMAINS)
def test_nor_does_a_subdomain_of_it(domain):
    assert resolve_institution(facts(f"director@school.{domain}"), DIRECTORY) == (
        None,
        "institution unknown",
    )


# --- keyword matching: vowels, endings, lengths ----------------------------------


def matches(keyword, text):
    competence = CompetenceInfo("c", TIER_REGIONAL, (keyword,))
    return guess_competence("", text, [competence])[0] is competence


# A keyword ending in any of these vowels also matches its stem alone.
VOWELS = "аъоуеиюяѝaeiouy"


@pytest.mark.parametrize("vowel", VOWELS)
def test_a_keyword_ending_in_a_vowel_matches_its_bare_stem(vowel):
    stem = "диплом" if vowel in "аъоуеиюяѝ" else "diplom"
    assert matches(stem + vowel, stem)


@pytest.mark.parametrize("consonant", ["к", "н", "т", "k", "n"])
def test_a_keyword_ending_in_a_consonant_does_not(consonant):
    assert not matches("диплом" + consonant, "диплом")


# Endings that may follow a keyword's stem once its final vowel is dropped.
ENDINGS = [
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
]


@pytest.mark.parametrize("ending", ENDINGS)
def test_each_bulgarian_ending_follows_a_stem(ending):
    # The keyword's own final vowel must differ from the ending's first
    # letter, or the word would simply begin with the whole keyword.
    keyword = "диплом" + ("о" if ending.startswith("а") else "а")
    assert matches(keyword, "диплом" + ending)


@pytest.mark.parametrize("word", ["дипломка", "дипломирам", "дипломс", "дипломщина"])
def test_other_endings_do_not(word):
    assert not matches("диплома", word)


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("вход", "входа", True),  # four letters: a prefix
        ("вход", "входящи", True),
        ("код", "кода", False),  # three letters: whole words only
        ("код", "код", True),
        ("права", "прави", True),  # stem of four letters, then an ending
        ("вода", "води", False),  # a stem of three letters is too short
        ("вода", "вода", True),
    ],
)
def test_short_keywords_match_whole_words_only(keyword, text, expected):
    assert matches(keyword, text) is expected


def test_one_keyword_in_the_subject_weighs_less_than_three_in_the_text():
    first = CompetenceInfo("first", TIER_REGIONAL, ("делегир",))
    second = CompetenceInfo("second", TIER_REGIONAL, ("парол", "профил", "вход"))
    guessed, matched = guess_competence("Делегиране", "вход с парола в профила", [first, second])
    assert (guessed, matched) == (second, ["парол", "профил", "вход"])


# --- institution codes in text: phones, markers, units ------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "звънете на 02 9812345",
        "звънете на +359 2 9812345",
        "звънете на +3592 9812345",
        "звънете на 00359 2 9812345",
        "звънете на 00 359 2 9812345",
    ],
)
def test_phone_numbers_are_no_codes(text):
    assert find_institution_code(text) == []


@pytest.mark.parametrize("marker", ["код", "кода", "кодът", "code", "НЕИСПУО", "id", "ID"])
def test_a_code_after_a_code_marker_comes_first(marker):
    assert find_institution_code(f"Училище 403071, {marker} 2206409") == ["2206409", "403071"]


@pytest.mark.parametrize(
    "text",
    [
        "гр. Бургас 800012",
        "град Бургас 800012",
        "п.к. 800012",
        "п. к. 800012",
        "ПК 800012",
        "тел 9812345",
        "тел. 9812345",
        "телефонът е 9812345",
        "GSM 9812345",
        "моб. 9812345",
        "мобилен 9812345",
        "факс 9812345",
        "изх. № 1234567",
        "вх. № 1234567",
        "рег. № 1234567",
        "заповед № 1234567",
        "заповедта 1234567",
        "ЕГН 800101",
        "ЕИК 1234567",
        "БУЛСТАТ 1234567",
        "стая 123456",
        "клас 123456",
    ],
)
def test_a_number_after_another_marker_is_no_code(text):
    assert find_institution_code(text) == []


@pytest.mark.parametrize(
    "unit",
    [
        "лв",
        "лв.",
        "лева",
        "BGN",
        "EUR",
        "евро",
        "€",
        "%",
        "KB",
        "MB",
        "GB",
        "кб",
        "мб",
        "байта",
        "ученика",
        "деца",
        "души",
        "стр.",
    ],
)
def test_an_amount_is_no_code(unit):
    assert find_institution_code(f"общо 123456 {unit} за годината") == []
    assert find_institution_code(f"общо 123456{unit} за годината") == []


def test_a_marker_counts_up_to_thirty_characters_before_the_number():
    # A five-digit number is a code only right after a marker.
    assert find_institution_code("код" + " " * 27 + "12345") == ["12345"]
    assert find_institution_code("код" + " " * 28 + "12345") == []
    assert find_institution_code("код:" + "x" * 25 + " 12345") == ["12345"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("код 123", []),
        ("код 1234", ["1234"]),
        ("код 12345", ["12345"]),
        ("12345", []),
        ("123456", ["123456"]),
        ("1234567", ["1234567"]),
        ("12345678", []),
    ],
)
def test_code_lengths(text, expected):
    assert find_institution_code(text) == expected


# The word index only narrows where a keyword may start: with or without it the answer is the same.
_PIECES = ["дипл", "диплома", "дипломата", "дипломи", "пра", "права", "правата", "не", "нещо",
           "500", "5001234", "вход", "входа", "а", "ата", "и", "те"]  # fmt: skip


@given(
    keyword=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3),
    words=st.lists(st.sampled_from(_PIECES), max_size=12),
)
def test_the_word_index_never_changes_whether_a_keyword_is_found(keyword, words):
    assert _keyword_in(keyword, words, _word_index(words)) == _keyword_in(keyword, words)
