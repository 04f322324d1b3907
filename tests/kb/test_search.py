"""Knowledge-base search in Bulgarian, on whichever database the tests run on.

Run on both backends:
    .venv/bin/python -m pytest tests/kb -q                          (SQLite, FTS5)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python -m pytest tests/kb -q                      (PostgreSQL)
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from kb import services
from kb.search import search_articles, suggest_articles
from kb.search_backends import PostgresBackend, SqliteBackend, get_backend

pytestmark = pytest.mark.django_db

ANONYMOUS = AnonymousUser()
DIPLOMA_ARTICLES = {"scanned-image-rejected", "entering-issued-diploma", "correcting-diploma"}


def slugs(hits):
    return [hit.article.slug for hit in hits]


def test_the_backend_follows_the_database():
    expected = PostgresBackend if connection.vendor == "postgresql" else SqliteBackend
    assert isinstance(get_backend(), expected)


@pytest.mark.parametrize("query", ["диплома", "дипломата", "дипломи", "дипломите", "Дипломата"])
def test_inflected_forms_find_the_diploma_articles(kb_content, query):
    found = slugs(search_articles(ANONYMOUS, query, "bg"))
    assert DIPLOMA_ARTICLES <= set(found), found
    # Every form finds the same articles in the same order.
    assert found == slugs(search_articles(ANONYMOUS, "диплома", "bg"))


def test_an_article_only_says_дипломата_and_is_found_by_дипломи(make_article):
    article = make_article(
        title="Печат", summary="Кратко.", body="Печатът на дипломата се поставя накрая."
    )
    make_article(title="Друго", body="Нищо общо с печатите.")
    assert slugs(search_articles(ANONYMOUS, "дипломи")) == [article.slug]
    assert slugs(search_articles(ANONYMOUS, "диплома")) == [article.slug]


@pytest.mark.parametrize("typo", ["дипломма", "диплма", "дипломаат"])
def test_a_typo_still_finds_the_diploma_articles(kb_content, typo):
    found = set(slugs(search_articles(ANONYMOUS, typo, "bg")))
    assert DIPLOMA_ARTICLES & found, typo


def test_a_typo_in_a_rare_word(make_article):
    article = make_article(title="Удостоверение за преместване", body="Издава се от училището.")
    assert slugs(search_articles(ANONYMOUS, "удостоверене")) == [article.slug]
    assert slugs(search_articles(ANONYMOUS, "удустоверение")) == [article.slug]


def test_a_phrase_must_appear_in_that_order(make_article):
    together = make_article(title="А", body="Сканираното изображение не се приема.")
    apart = make_article(title="Б", body="Изображение, което е сканирано лошо.")
    assert set(slugs(search_articles(ANONYMOUS, "сканирано изображение"))) == {
        together.slug,
        apart.slug,
    }
    assert slugs(search_articles(ANONYMOUS, '"сканирано изображение"')) == [together.slug]
    # The phrase matches inflected forms too.
    assert slugs(search_articles(ANONYMOUS, '"сканираните изображения"')) == [together.slug]


def test_a_phrase_from_the_seed_content(kb_content):
    found = slugs(search_articles(ANONYMOUS, '"сканирано изображение"', "bg"))
    assert found and found[0] == "scanned-image-rejected"


def test_ranking_title_then_summary_then_body(make_article):
    in_body = make_article(title="Първа", summary="Нищо.", body="Тук се споменава дневникът.")
    in_summary = make_article(title="Втора", summary="За дневника накратко.", body="Текст.")
    in_title = make_article(title="Електронен дневник", summary="Нищо.", body="Текст.")
    assert slugs(search_articles(ANONYMOUS, "дневници")) == [
        in_title.slug,
        in_summary.slug,
        in_body.slug,
    ]


def test_all_words_must_match_and_any_word_is_the_fallback(make_article):
    both = make_article(title="Парола и профил", body="")
    one = make_article(title="Само парола", body="")
    assert slugs(search_articles(ANONYMOUS, "парола профил")) == [both.slug]
    assert set(slugs(search_articles(ANONYMOUS, "парола ябълка"))) == {both.slug, one.slug}


def test_hits_carry_highlighted_title_and_snippet(kb_content):
    hit = search_articles(ANONYMOUS, "дипломите", "bg")[0]
    assert "<mark>" in hit.title_html or "<mark>" in hit.snippet_html
    assert hit.url == f"/kb/bg/{hit.article.slug}/"


def test_snippet_comes_from_the_body_when_the_summary_does_not_match(make_article):
    make_article(title="Т", summary="Обобщение.", body="Изречение. " * 40 + "Тук е думата кочан.")
    hit = search_articles(ANONYMOUS, "кочан")[0]
    assert "<mark>кочан</mark>" in hit.snippet_html


def test_search_text_is_escaped(make_article):
    make_article(title="<b>Опасно</b> заглавие", body="<script>alert(1)</script> опасно")
    hit = search_articles(ANONYMOUS, "опасно")[0]
    assert "<b>" not in hit.title_html and "&lt;b&gt;" in hit.title_html
    assert "<script>" not in hit.snippet_html


def test_language_filter(kb_content):
    # НЕИСПУО is written in the articles of both languages.
    assert {h.article.language for h in search_articles(ANONYMOUS, "НЕИСПУО")} == {"bg", "en"}
    for language in ("bg", "en"):
        found = search_articles(ANONYMOUS, "НЕИСПУО", language)
        assert found, language
        assert {h.article.language for h in found} == {language}
    english = slugs(search_articles(ANONYMOUS, "diplomas", "en"))
    assert DIPLOMA_ARTICLES <= set(english)


def test_empty_and_stopword_queries_find_nothing(kb_content):
    assert search_articles(ANONYMOUS, "") == []
    assert search_articles(ANONYMOUS, "   ") == []
    assert search_articles(ANONYMOUS, "как да") == []
    assert search_articles(ANONYMOUS, '""') == []


@pytest.mark.parametrize(
    "query", ["диплома AND OR NOT", "диплома*", "(диплома", "диплома:*", "диплома)", '"диплома']
)
def test_operator_characters_are_only_words(kb_content, query):
    found = set(slugs(search_articles(ANONYMOUS, query, "bg")))
    assert DIPLOMA_ARTICLES <= found, query


@pytest.mark.parametrize("query", ["&", "| !", "\\'", "*", "()", ":*", "-"])
def test_a_query_of_operator_characters_alone_finds_nothing(kb_content, query):
    assert search_articles(ANONYMOUS, query) == []


def test_the_limit_is_kept(kb_content):
    assert len(search_articles(ANONYMOUS, "заявка", "bg", limit=3)) == 3


def test_drafts_are_never_found_even_by_agents(cast, make_article):
    make_article(title="Чернова за кочани", status="draft", visibility="public")
    assert search_articles(cast.expert_x, "кочани") == []


def test_the_index_follows_edits_and_deletions(make_article):
    article = make_article(title="Старо заглавие", body="")
    article.title = "Ново наименование"
    services.save_article(article, actor=None)
    assert search_articles(ANONYMOUS, "старо") == []
    assert slugs(search_articles(ANONYMOUS, "наименование")) == [article.slug]
    services.delete_article(article)
    assert search_articles(ANONYMOUS, "наименование") == []


def test_tags_are_searchable(make_article):
    article = make_article(title="Т", tags="кампания, натоварване", body="")
    assert slugs(search_articles(ANONYMOUS, "натоварването")) == [article.slug]


def test_rebuild_index(make_article):
    article = make_article(title="Вход в системата")
    assert services.rebuild_index() >= 1
    assert slugs(search_articles(ANONYMOUS, "вход")) == [article.slug]


# --- suggestions for the filing form ---------------------------------------------


def test_suggestions_while_typing(kb_content):
    found = suggest_articles(ANONYMOUS, "Сканираното изображение на дипломата не се прие")
    assert found and found[0]["url"] == "/kb/bg/scanned-image-rejected/"
    assert set(found[0]) == {"id", "title", "url", "summary"}


def test_suggestions_complete_the_word_being_typed(make_article):
    article = make_article(title="Електронен дневник")
    assert [s["id"] for s in suggest_articles(ANONYMOUS, "електронен днев")] == [article.pk]
    assert [s["id"] for s in suggest_articles(ANONYMOUS, "днев")] == [article.pk]


def test_suggestions_need_a_few_letters(kb_content):
    assert suggest_articles(ANONYMOUS, "ди") == []


def test_cyrillic_text_suggests_bulgarian_articles_only(kb_content):
    found = suggest_articles(ANONYMOUS, "не мога да вляза в системата", limit=5)
    assert found and all(item["url"].startswith("/kb/bg/") for item in found)
    assert found[0]["url"] == "/kb/bg/cannot-log-in/"


def test_suggestions_for_a_long_description_use_any_word(kb_content):
    text = (
        "Здравейте, при въвеждане на издадена диплома регистърът връща грешка за "
        "сканираното изображение. Моля за съдействие."
    )
    urls = [item["url"] for item in suggest_articles(ANONYMOUS, text)]
    assert "/kb/bg/scanned-image-rejected/" in urls[:2]
