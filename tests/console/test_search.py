"""Full-text search: the pure query parser, and Cyrillic search on the real database."""

import pytest

from tickets import actions
from tickets.models import Ticket
from tickets.search import SearchTerms, filter_by_text, fts5_query, parse_query, tsquery


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SearchTerms()),
        ("   ", SearchTerms()),
        ("26-000123", SearchTerms(reference="26-000123")),
        ("26-123", SearchTerms(reference="26-000123")),
        (" 26-7 ", SearchTerms(reference="26-000007")),
        ("2206409", SearchTerms(number="2206409", words=("2206409",))),
        ("Диплома", SearchTerms(words=("диплома",))),
        ("ДИПЛОМАТА не се КАЧВА", SearchTerms(words=("дипломата", "не", "се", "качва"))),
        ("диплома, 138 СУ!", SearchTerms(words=("диплома", "138", "су"))),
        ("a б в диплома", SearchTerms(words=("диплома",))),
        ("edu.mon.bg вход", SearchTerms(words=("edu", "mon", "bg", "вход"))),
        ('it\'s "quoted" (x) OR y*', SearchTerms(words=("it", "quoted", "or"))),
        (
            "один два три четири пет шест седем осем девет",
            SearchTerms(words=("один", "два", "три", "четири", "пет", "шест", "седем", "осем")),
        ),
        ("12345678", SearchTerms(words=("12345678",))),
        ("snake_case", SearchTerms(words=("snake", "case"))),
    ],
)
def test_parse_query(text, expected):
    assert parse_query(text) == expected


def test_backend_query_texts_quote_every_word():
    assert tsquery(("диплом", "138")) == "диплом:* & 138:*"
    assert fts5_query(("диплом", "138")) == '"диплом"* "138"*'


@pytest.fixture
def corpus(cast, make_ticket):
    diploma = make_ticket(subject="Дипломата не се качва", text="Сканираното изображение е голямо.")
    login = make_ticket(
        subject="Въпрос",
        competence=cast.competences["login"],
        text="Не мога да вляза в профила си в edu.mon.bg",
    )
    actions.add_message(
        ticket=login,
        actor=cast.expert_x2,
        text="Опитайте ПРЕМЕСТВАНЕ на ученика.",
        channel="console",
    )
    other_region = make_ticket(
        actor=cast.teacher_b, institution=cast.school_b, subject="Дипломата пак не се качва"
    )
    return diploma, login, other_region


def _refs(user, text):
    return set(
        filter_by_text(Ticket.objects.visible_to(user), text).values_list("reference", flat=True)
    )


@pytest.mark.django_db
def test_cyrillic_words_match_subjects_and_messages_as_prefixes(cast, corpus):
    diploma, login, other_region = corpus
    assert _refs(cast.expert_x, "диплом") == {diploma.reference}
    assert _refs(cast.expert_x, "ДИПЛОМАТА") == {diploma.reference}
    assert _refs(cast.expert_x, "изображение") == {diploma.reference}
    assert _refs(cast.expert_x, "профил edu") == {login.reference}
    # An agent's reply is searched too, whatever the case.
    assert _refs(cast.expert_x, "преместване") == {login.reference}
    # All words must be found (in the subject or in one message).
    assert _refs(cast.expert_x, "диплом профил") == set()
    assert _refs(cast.expert_x, "") == {diploma.reference, login.reference}


@pytest.mark.django_db
def test_search_never_widens_visibility(cast, corpus):
    diploma, login, other_region = corpus
    assert _refs(cast.expert_y, "диплом") == {other_region.reference}
    assert _refs(cast.teacher_b, "диплом") == {other_region.reference}
    assert _refs(cast.outsider, "диплом") == set()


@pytest.mark.django_db
def test_reference_and_institution_code(cast, corpus):
    diploma, login, other_region = corpus
    short = diploma.reference.split("-")[0] + "-" + str(int(diploma.reference.split("-")[1]))
    assert _refs(cast.expert_x, short) == {diploma.reference}
    assert _refs(cast.expert_x, other_region.reference) == set()
    assert _refs(cast.expert_x, cast.school_a.code) == {diploma.reference, login.reference}


@pytest.mark.django_db
def test_merged_messages_are_found_under_the_target(cast, corpus):
    diploma, login, _other = corpus
    actions.merge(source=login, target=diploma, actor=cast.expert_x)
    assert _refs(cast.expert_x, "преместване") == {diploma.reference}


@pytest.mark.django_db
def test_common_words_take_the_row_by_row_path(cast, corpus, monkeypatch):
    """On PostgreSQL a word matching many tickets is tested row by row; same answers."""
    from tickets import search

    monkeypatch.setattr(search, "ID_LIST_LIMIT", 0)
    diploma, login, other_region = corpus
    assert _refs(cast.expert_x, "диплом") == {diploma.reference}
    assert _refs(cast.expert_x, "преместване") == {login.reference}
    assert _refs(cast.expert_y, "диплом") == {other_region.reference}
    assert _refs(cast.expert_x, "няма такава дума") == set()
