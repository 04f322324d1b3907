"""The language switch carries an open article to its translation, else to the index."""

import re

import pytest

pytestmark = pytest.mark.django_db

NEXT = re.compile(r'<input name="next" type="hidden" value="([^"]*)">')


def switch_target(client, url, language="bg") -> str:
    html = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    return NEXT.search(html).group(1)


def test_an_article_leads_to_its_translation(client, make_article):
    make_article(slug="delegation", title="Делегиране на права")
    make_article(slug="delegation", language="en", title="Delegating rights")
    assert switch_target(client, "/kb/bg/delegation/") == "/kb/en/delegation/"
    # ...and the switch really shows it in English.
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/kb/en/delegation/"})
    assert response.status_code == 302 and response["Location"] == "/kb/en/delegation/"
    html = client.get(response["Location"]).content.decode()
    assert '<html lang="en">' in html and "Delegating rights" in html
    # From English back to Bulgarian.
    client.cookies["django_language"] = "en"
    assert switch_target(client, "/kb/en/delegation/", "en") == "/kb/bg/delegation/"


def test_an_article_without_a_translation_leads_to_the_index(client, make_article):
    make_article(slug="only-bulgarian")
    assert switch_target(client, "/kb/bg/only-bulgarian/") == "/kb/"


def test_a_bulgarian_article_read_in_english_stays_when_switching_to_bulgarian(
    client, make_article
):
    make_article(slug="only-bulgarian")
    client.cookies["django_language"] = "en"
    assert switch_target(client, "/kb/bg/only-bulgarian/", "en") == "/kb/bg/only-bulgarian/"


def test_a_translation_the_reader_may_not_see_is_not_offered(client, make_article):
    make_article(slug="draft-en")
    make_article(slug="draft-en", language="en", status="draft")
    assert switch_target(client, "/kb/bg/draft-en/") == "/kb/"


def test_other_pages_keep_their_own_address(client, make_article):
    assert switch_target(client, "/kb/?x=1") == "/kb/?x=1"
