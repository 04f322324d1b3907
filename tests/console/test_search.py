"""Ticket search in Bulgarian: the pure query parser, and search on the real database.

The database tests run on SQLite here and on PostgreSQL in `make test-pg`;
tests/integration/test_search_c_locale.py runs them once more on a
PostgreSQL database created with LC_CTYPE=C.
"""

import pytest
from django.db import connection
from django.urls import reverse

from tests.testservers import require_postgresql
from tickets import actions
from tickets.models import Ticket
from tickets.search import (
    MAX_QUERY_CHARS,
    MAX_WORDS,
    SearchTerms,
    build_document,
    filter_by_text,
    fts5_query,
    parse_query,
    rebuild_all,
    tsquery,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SearchTerms()),
        ("   ", SearchTerms()),
        ("26-000123", SearchTerms(reference="26-000123")),
        ("26-123", SearchTerms(reference="26-000123")),
        (" 26-7 ", SearchTerms(reference="26-000007")),
        ("[HD#26-000301]", SearchTerms(reference="26-000301")),
        ("Ivan.Petrov@Abv.BG", SearchTerms(email="ivan.petrov@abv.bg")),
        ("2206409", SearchTerms(number="2206409", words=("2206409",))),
        ("Диплома", SearchTerms(words=("диплом",))),
        ("ДИПЛОМИТЕ", SearchTerms(words=("диплом",))),
        # Common words narrow nothing and are dropped.
        ("ДИПЛОМАТА не се КАЧВА", SearchTerms(words=("диплом", "качв"))),
        ("диплома, 138 СУ!", SearchTerms(words=("диплом", "138", "су"))),
        ("a б в диплома", SearchTerms(words=("диплом",))),
        # Only common words: kept, or nothing would be searched.
        ("не се", SearchTerms(words=("не", "се"))),
        ("edu.mon.bg вход", SearchTerms(words=("edu", "mon", "bg", "вход"))),
        (
            '"електронния дневник" оценки',
            SearchTerms(words=("оценк",), phrases=(("електронн", "дневник"),)),
        ),
        ('"дневник', SearchTerms(words=("дневник",))),
        ('it\'s "quoted" (x) OR y*', SearchTerms(phrases=(("quoted",),))),
        (
            "един две три четири пет шест седем осем девет",
            SearchTerms(words=("две", "три", "четир", "пет", "шест", "седем", "осем", "девет")),
        ),
        ("12345678", SearchTerms(words=("12345678",))),
        ("snake_case", SearchTerms(words=("snake", "case"))),
    ],
)
def test_parse_query(text, expected):
    assert parse_query(text) == expected


def test_queries_are_bounded():
    terms = parse_query(" ".join(f"дума{i}x" for i in range(100)))
    assert len(terms.words) == MAX_WORDS
    phrase_heavy = parse_query('"' + " ".join(f"x{i}" for i in range(50)) + '" още думи')
    assert sum(len(p) for p in phrase_heavy.phrases) + len(phrase_heavy.words) == MAX_WORDS
    long = parse_query("д" * 10_000 + " дипломата")
    assert long.words and len(long.words[0]) <= MAX_QUERY_CHARS


def test_backend_query_texts_quote_every_word():
    assert tsquery(("диплом", "138")) == "'диплом':* & '138':*"
    assert tsquery(("оценк",), (("електронн", "дневник"),)) == (
        "'оценк':* & ('електронн' <-> 'дневник')"
    )
    assert fts5_query(("диплом", "138")) == '"диплом"* AND "138"*'
    assert fts5_query(("a",), (("b", "c"),), column="public_text") == (
        'public_text : ("a"* AND "b c")'
    )


def test_documents_are_folded_in_python_and_keep_notes_apart():
    public, notes = build_document(
        "ДИПЛОМАТА не се качва",
        [("public", "Сканирани ДИПЛОМИ"), ("internal", "Бележка за СЪРВЪРА")],
    )
    assert public == "диплом не се качв сканиран диплом"
    assert notes == "бележк за сървър"


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
    actions.add_message(
        ticket=login,
        actor=cast.expert_x2,
        text="Вътрешна бележка: сървърът на доставчика отказва.",
        channel="console",
        kind="internal",
    )
    # The words of a search split between the subject and a message.
    grades = make_ticket(
        subject="Оценките изчезнаха",
        competence=cast.competences["general"],
        text="След обновяване на електронния дневник класът е празен.",
    )
    other_region = make_ticket(
        actor=cast.teacher_b, institution=cast.school_b, subject="Дипломата пак не се качва"
    )
    return diploma, login, grades, other_region


def _refs(user, text, include_internal=True):
    visible = Ticket.objects.visible_to(user)
    found = filter_by_text(visible, text, include_internal=include_internal)
    return set(found.values_list("reference", flat=True))


@pytest.mark.django_db
def test_inflected_forms_find_each_other(cast, corpus):
    diploma, login, grades, other_region = corpus
    for form in ("диплома", "дипломи", "дипломите", "ДИПЛОМАТА", "Дипломата", "диплом"):
        assert _refs(cast.expert_x, form) == {diploma.reference}, form
    assert _refs(cast.expert_x, "изображения") == {diploma.reference}
    assert _refs(cast.expert_x, "профили edu") == {login.reference}
    # An agent's reply is searched too, whatever the case and form.
    assert _refs(cast.expert_x, "преместването") == {login.reference}
    assert _refs(cast.expert_x, "ученици") == {login.reference}
    # A prefix still finds the longer word.
    assert _refs(cast.expert_x, "изобр") == {diploma.reference}
    assert _refs(cast.expert_x, "") == {diploma.reference, login.reference, grades.reference}


@pytest.mark.django_db
def test_words_split_between_subject_and_message(cast, corpus):
    diploma, login, grades, other_region = corpus
    assert _refs(cast.expert_x, "оценки дневника") == {grades.reference}
    assert _refs(cast.expert_x, "оценката класът празен") == {grades.reference}
    assert _refs(cast.expert_x, "въпрос ученика") == {login.reference}
    # All words must be found in the request.
    assert _refs(cast.expert_x, "диплом профил") == set()
    assert _refs(cast.expert_x, "оценки дипломата") == set()


@pytest.mark.django_db
def test_phrases_in_quotes(cast, corpus):
    diploma, login, grades, other_region = corpus
    assert _refs(cast.expert_x, '"електронния дневник"') == {grades.reference}
    assert _refs(cast.expert_x, '"електронните дневници"') == {grades.reference}
    # The same words in another order are not the phrase.
    assert _refs(cast.expert_x, '"дневник електронен"') == set()
    assert _refs(cast.expert_x, "дневници електронните") == {grades.reference}
    assert _refs(cast.expert_x, '"не се качва" дипломите') == {diploma.reference}


@pytest.mark.django_db
def test_internal_notes_are_searched_only_for_staff(cast, corpus):
    diploma, login, grades, other_region = corpus
    assert _refs(cast.expert_x, "сървъра доставчика") == {login.reference}
    # The requester's search (the API and the console pass include_internal
    # from policies.may_see_internal) never matches a word only a note holds.
    assert _refs(cast.teacher_a, "сървъра", include_internal=False) == set()
    assert _refs(cast.teacher_a, '"сървърът на доставчика"', include_internal=False) == set()
    assert _refs(cast.teacher_a, "въпрос сървъра", include_internal=False) == set()
    assert _refs(cast.teacher_a, "преместване", include_internal=False) == {login.reference}


@pytest.mark.django_db
def test_search_never_widens_visibility(cast, corpus):
    diploma, login, grades, other_region = corpus
    assert _refs(cast.expert_y, "диплом") == {other_region.reference}
    assert _refs(cast.teacher_b, "диплом", include_internal=False) == {other_region.reference}
    assert _refs(cast.outsider, "диплом", include_internal=False) == set()


@pytest.mark.django_db
def test_reference_code_and_requester_email(cast, corpus):
    diploma, login, grades, other_region = corpus
    short = diploma.reference.split("-")[0] + "-" + str(int(diploma.reference.split("-")[1]))
    assert _refs(cast.expert_x, short) == {diploma.reference}
    assert _refs(cast.expert_x, f"HD#{diploma.reference}") == {diploma.reference}
    assert _refs(cast.expert_x, other_region.reference) == set()
    assert _refs(cast.expert_x, cast.school_a.code) == {
        diploma.reference,
        login.reference,
        grades.reference,
    }
    assert _refs(cast.expert_y, cast.school_b.code) == {other_region.reference}
    assert _refs(cast.expert_x, "TEACHER.A@edu.mon.bg") == {
        diploma.reference,
        login.reference,
        grades.reference,
    }
    assert _refs(cast.expert_x, cast.teacher_b.email) == set()


@pytest.mark.django_db
def test_requester_who_wrote_by_mail_is_found_by_address(cast):
    ticket = actions.file_from_mail(
        sender=None,
        requester_email="parent.ivanova@abv.bg",
        subject="Удостоверение",
        text="Моля за удостоверение за преместване.",
        institution=cast.school_a,
    )
    found = _refs(cast.admin, "Parent.Ivanova@abv.bg")
    assert found == {ticket.reference}
    assert _refs(cast.admin, "удостоверения") == {ticket.reference}


@pytest.mark.django_db
def test_merged_messages_are_found_under_the_target(cast, corpus):
    diploma, login, grades, _other = corpus
    actions.merge(source=login, target=diploma, actor=cast.expert_x)
    assert _refs(cast.expert_x, "преместване") == {diploma.reference}
    assert _refs(cast.expert_x, "преместване дипломата") == {diploma.reference}


@pytest.mark.django_db
def test_a_new_subject_is_searched(cast, corpus):
    diploma, *_rest = corpus
    ticket = Ticket.objects.get(pk=diploma.pk)
    ticket.subject = "Удостоверение за завършен клас"
    ticket.save()
    assert _refs(cast.expert_x, "удостоверения") == {diploma.reference}
    assert _refs(cast.expert_x, "дипломата качва") == set()


@pytest.mark.django_db
def test_rebuild_gives_the_same_answers(cast, corpus):
    diploma, login, grades, _other = corpus
    assert rebuild_all() == 4
    assert _refs(cast.expert_x, "оценки дневника") == {grades.reference}
    assert _refs(cast.teacher_a, "сървъра", include_internal=False) == set()


@pytest.mark.django_db
def test_common_words_take_the_row_by_row_path(cast, corpus, monkeypatch):
    """On PostgreSQL a word matching many tickets is tested row by row; same answers."""
    from tickets import search

    monkeypatch.setattr(search, "ID_LIST_LIMIT", 0)
    diploma, login, grades, other_region = corpus
    assert _refs(cast.expert_x, "дипломите") == {diploma.reference}
    assert _refs(cast.expert_x, "преместване") == {login.reference}
    assert _refs(cast.expert_y, "диплом") == {other_region.reference}
    assert _refs(cast.teacher_a, "сървъра", include_internal=False) == set()
    assert _refs(cast.expert_x, "няма такава дума") == set()


@pytest.mark.django_db
def test_the_database_does_no_case_folding_of_its_own(cast, corpus):
    """The documents hold lower-case stems already: nothing depends on the server's locale."""
    diploma, *_rest = corpus
    table, key = (
        ("tickets_search", "ticket_id")
        if connection.vendor == "postgresql"
        else ("tickets_search_fts", "rowid")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT public_text FROM {table} WHERE {key} = %s", [diploma.pk])
        (public,) = cursor.fetchone()
    assert public.startswith("диплом не се качв")
    assert public == public.lower()


@pytest.mark.django_db
def test_console_search_box_and_api(client, cast, corpus):
    diploma, login, grades, _other = corpus
    client.force_login(cast.expert_x)
    page = client.get(reverse("console:queue_key", args=["all"]), {"q": "дипломите"})
    assert page.status_code == 200
    assert diploma.reference in page.content.decode()
    assert grades.reference not in page.content.decode()
    page = client.get(reverse("console:queue_key", args=["all"]), {"q": '"електронния дневник"'})
    assert grades.reference in page.content.decode()
    assert diploma.reference not in page.content.decode()
    api = client.get("/api/v1/tickets/", {"q": "оценки дневника"})
    assert api.status_code == 200
    assert [t["reference"] for t in api.json()["results"]] == [grades.reference]


@pytest.mark.django_db
def test_the_migration_builds_documents_for_existing_tickets(cast, corpus):
    """0013_search_stems builds the documents of the requests that exist at upgrade time."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("tickets.migrations.0013_search_stems")
    diploma, login, grades, _other = corpus
    if connection.vendor == "postgresql":
        table = "tickets_search"
        insert = (
            "INSERT INTO tickets_search (ticket_id, public_text, note_text) VALUES (%s, %s, %s)"
        )
    else:
        table = "tickets_search_fts"
        insert = (
            "INSERT INTO tickets_search_fts (rowid, public_text, note_text) VALUES (%s, %s, %s)"
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    assert _refs(cast.expert_x, "дипломите") == set()
    migration._build(apps, connection, insert, batch=2)
    assert _refs(cast.expert_x, "дипломите") == {diploma.reference}
    assert _refs(cast.expert_x, "оценки дневника") == {grades.reference}
    assert _refs(cast.teacher_a, "сървъра", include_internal=False) == set()
    assert _refs(cast.expert_x, "сървъра") == {login.reference}


@pytest.mark.django_db
def test_words_common_by_the_statistics_skip_the_index_with_the_same_answers(
    cast, corpus, monkeypatch
):
    """A word the column statistics call common is tested row by row without reading the
    GIN index first; the answers, and what each person may find, stay the same."""
    require_postgresql(connection.vendor, "Reading PostgreSQL's column statistics")
    from tickets import search

    diploma, login, grades, other_region = corpus
    searches = [
        (cast.expert_x, "дипломите", True),
        (cast.expert_y, "диплом", True),
        (cast.expert_x, "преместване", True),
        (cast.expert_x, '"електронния дневник"', True),
        # A word only an internal note holds: never found by a requester.
        (cast.teacher_a, "сървъра", False),
        (cast.teacher_a, "диплом", False),
    ]
    before = [_refs(user, text, internal) for user, text, internal in searches]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_search")
    # Any share of the documents is "many" now: the statistics decide alone.
    monkeypatch.setattr(search, "ID_LIST_LIMIT", 0)
    terms = search.parse_query("диплом")
    condition = search._postgres_condition(terms, "all_vector")
    assert "_DocumentMatches" in repr(condition)
    rare = search._postgres_condition(search.parse_query("несъществуващадума"), "all_vector")
    assert "_DocumentMatches" not in repr(rare)
    after = [_refs(user, text, internal) for user, text, internal in searches]
    assert after == before
    assert before[0] == {diploma.reference} and before[1] == {other_region.reference}
    assert before[4] == set() and before[5] == {diploma.reference}
