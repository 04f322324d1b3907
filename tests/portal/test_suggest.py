"""The knowledge-base suggestions endpoint: its JSON contract."""

import sys
import types

import pytest

URL = "/portal/suggest/"


@pytest.fixture
def fake_kb(monkeypatch):
    calls = []

    class Article:
        title = "Как се качва диплома"
        summary = "Стъпки за сканираното изображение."

        def get_absolute_url(self):
            return "/kb/kak-se-kachva-diploma/"

    def suggest_articles(user, text, limit):
        calls.append((user, text, limit))
        return [
            {"title": "Делегиране", "url": "/kb/delegirane/", "summary": "<b>кратко</b>", "id": 1},
            Article(),
        ]

    module = types.ModuleType("kb.search")
    module.suggest_articles = suggest_articles
    monkeypatch.setitem(sys.modules, "kb.search", module)
    return calls


def test_returns_articles_in_the_contract_shape(client, cast, fake_kb):
    client.force_login(cast.teacher_a)
    response = client.get(URL, {"q": "  диплома   сканирана "})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "articles": [
            {"title": "Делегиране", "url": "/kb/delegirane/", "summary": "<b>кратко</b>"},
            {
                "title": "Как се качва диплома",
                "url": "/kb/kak-se-kachva-diploma/",
                "summary": "Стъпки за сканираното изображение.",
            },
        ]
    }
    assert fake_kb == [(cast.teacher_a, "диплома сканирана", 5)]


def test_short_queries_ask_nothing(client, cast, fake_kb):
    client.force_login(cast.teacher_a)
    assert client.get(URL, {"q": "дн"}).json() == {"articles": []}
    assert fake_kb == []


def test_without_the_knowledge_base_the_list_is_empty(client, cast, monkeypatch):
    monkeypatch.setitem(sys.modules, "kb.search", None)
    client.force_login(cast.teacher_a)
    assert client.get(URL, {"q": "диплома"}).json() == {"articles": []}


def test_a_failing_knowledge_base_does_not_break_the_form(client, cast, monkeypatch):
    module = types.ModuleType("kb.search")

    def broken(user, text, limit):
        raise RuntimeError("index missing")

    module.suggest_articles = broken
    monkeypatch.setitem(sys.modules, "kb.search", module)
    client.force_login(cast.teacher_a)
    assert client.get(URL, {"q": "диплома"}).json() == {"articles": []}


def test_the_real_knowledge_base_answers_in_shape(client, cast):
    pytest.importorskip("kb.search")
    client.force_login(cast.teacher_a)
    response = client.get(URL, {"q": "диплома"})
    assert response.status_code == 200
    for article in response.json()["articles"]:
        assert set(article) == {"title", "url", "summary"}


def test_login_required(client, db):
    assert client.get(URL, {"q": "диплома"}).status_code == 302
