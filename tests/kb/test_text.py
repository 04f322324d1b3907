"""Query parsing, trigram similarity, highlighting and snippets.

Pure tests: run with ``-p no:django``.
"""

import pytest

from kb.text import closest_terms, highlight, parse_query, similarity, snippet, trigrams


@pytest.mark.parametrize(
    ("text", "terms", "phrases"),
    [
        ("дипломата", ("диплом",), ()),
        ("Как да въведа дипломата?", ("въвед", "диплом"), ()),
        ('"сканирано изображение" диплома', ("диплом",), (("сканиран", "изображен"),)),
        ('"на дипломата"', (), (("на", "диплом"),)),
        ('диплома "незатворени', ("диплом", "незатворен"), ()),
        ("диплома дипломата Дипломи", ("диплом",), ()),
        ("как да", (), ()),
        ("", (), ()),
    ],
)
def test_parse_query(text, terms, phrases):
    parsed = parse_query(text)
    assert parsed.terms == terms
    assert parsed.phrases == phrases


def test_parse_query_keeps_at_most_max_terms():
    parsed = parse_query(" ".join(f"дума{n}" for n in range(30)), max_terms=5)
    assert len(parsed.terms) == 5


@pytest.mark.parametrize(
    ("text", "prefix"),
    [("диплом", True), ("диплом ", False), ("сканирано изо", True), ("как да", False), ("", False)],
)
def test_parse_query_prefix_only_while_a_word_is_typed(text, prefix):
    assert parse_query(text, prefix=True).prefix is prefix


def test_prefixes_and_match_stems():
    parsed = parse_query('"на дипломата" изо', prefix=True)
    assert parsed.prefixes() == {"изо"}
    assert parsed.match_stems() == {"изо", "на", "диплом"}


def test_trigrams_are_padded_like_pg_trgm():
    assert trigrams("cat") == {"  c", " ca", "cat", "at "}


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("диплом", "диплом", 1.0, 1.0),
        ("дипломм", "диплом", 0.6, 0.8),
        ("дипром", "диплом", 0.3, 0.5),
        ("парол", "пароал", 0.3, 0.6),
        ("диплом", "ученик", 0.0, 0.1),
    ],
)
def test_similarity(a, b, low, high):
    assert low <= similarity(a, b) <= high


def test_closest_terms_finds_the_misspelt_word():
    vocabulary = {"диплом", "дипломн", "ученик", "парол", "сканиран"}
    assert closest_terms("дипломм", vocabulary)[0] == "диплом"
    assert closest_terms("пароал", vocabulary) == ("парол",)
    assert closest_terms("ябълк", vocabulary) == ()
    assert "диплом" not in closest_terms("диплом", vocabulary)


def test_highlight_marks_inflected_forms_and_escapes_the_rest():
    html = highlight("Дипломите <b>и</b> дипломата", {"диплом"})
    assert html == "<mark>Дипломите</mark> &lt;b&gt;и&lt;/b&gt; <mark>дипломата</mark>"


def test_highlight_marks_prefixes():
    assert str(highlight("изображение", set(), {"изо"})) == "<mark>изображение</mark>"


def test_snippet_is_cut_around_the_matches():
    text = ("начало " * 60) + "тук е дипломата " + ("край " * 60)
    result = str(snippet(text, {"диплом"}, width=80))
    assert "<mark>дипломата</mark>" in result
    assert result.startswith("… ") and result.endswith(" …")
    assert len(result) < 130


def test_snippet_of_short_text_is_the_whole_text():
    assert str(snippet("  кратък   текст ", {"текст"})) == "кратък <mark>текст</mark>"


def test_snippet_without_match_starts_at_the_beginning():
    result = str(snippet("дума " * 100, {"друго"}, width=40))
    assert result.startswith("дума") and result.endswith(" …")


def test_snippet_escapes_html():
    result = str(snippet("<script>alert(1)</script> " * 30 + "диплома", {"диплом"}, width=60))
    assert "<script>" not in result
    assert "<mark>диплома</mark>" in result
