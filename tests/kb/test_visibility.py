"""Who may read which article: Article.objects.visible_to() and every door that uses it.

A public visitor and a teacher never see an agents-only article: not by its
address, not in search, not in suggestions, not in the sitemap, not through
its files. Each test also checks that those who may see it do.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from kb import services
from kb.models import Article
from kb.querysets import audience_of
from kb.search import search_articles, suggest_articles

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
    b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)
SECRET_WORD = "тайнопис"


@pytest.fixture
def articles(cast, make_article):
    """One article of each visibility (and a draft), all about the same secret word."""
    made = {
        "public": make_article(slug="public-one", title=f"Публично за {SECRET_WORD}"),
        "staff": make_article(
            slug="staff-one", title=f"За служители: {SECRET_WORD}", visibility="staff"
        ),
        "agents": make_article(
            slug="agents-one", title=f"Само за експерти: {SECRET_WORD}", visibility="agents"
        ),
        "draft": make_article(slug="draft-one", title=f"Чернова: {SECRET_WORD}", status="draft"),
    }
    for key in ("public", "agents"):
        services.add_attachment(made[key], name=f"{key}.png", data=PNG, actor=None)
    return made


def readers(cast):
    return {
        "anonymous": AnonymousUser(),
        "outsider": cast.outsider,
        "teacher": cast.teacher_a,
        "teacher_b": cast.teacher_b,
        "director": cast.director_a,
        "expert": cast.expert_x,
        "central": cast.central,
        "supervisor": cast.supervisor_all,
        "admin": cast.admin,
    }


# Which articles each reader may open by address (drafts only for agents and admins).
EXPECTED = {
    "anonymous": {"public"},
    "outsider": {"public"},
    "teacher": {"public", "staff"},
    "teacher_b": {"public", "staff"},
    "director": {"public", "staff"},
    "expert": {"public", "staff", "agents", "draft"},
    "central": {"public", "staff", "agents", "draft"},
    "supervisor": {"public", "staff", "agents", "draft"},
    "admin": {"public", "staff", "agents", "draft"},
}


def _user(cast, name):
    return readers(cast)[name]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_visible_to(cast, articles, name):
    visible = set(Article.objects.visible_to(_user(cast, name)).values_list("slug", flat=True))
    expected = {articles[key].slug for key in EXPECTED[name]}
    assert visible == expected


@pytest.mark.parametrize(
    ("name", "audience"),
    [
        ("anonymous", "public"),
        ("outsider", "public"),
        ("teacher", "staff"),
        ("expert", "agents"),
        ("admin", "agents"),
    ],
)
def test_audience_of(cast, name, audience):
    assert audience_of(_user(cast, name)) == audience


def test_an_inactive_agent_is_public(cast, articles):
    cast.expert_x.is_active = False
    cast.expert_x.save()
    assert audience_of(cast.expert_x) == "public"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_article_pages_by_address(client, cast, articles, name):
    user = _user(cast, name)
    if user.is_authenticated:
        client.force_login(user)
    for key, article in articles.items():
        response = client.get(article.get_absolute_url())
        expected = 200 if key in EXPECTED[name] else 404
        assert response.status_code == expected, (name, key)
        if expected == 404:
            assert SECRET_WORD not in response.content.decode()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_search_never_shows_what_a_reader_may_not_open(cast, articles, name):
    found = {hit.article.slug for hit in search_articles(_user(cast, name), SECRET_WORD)}
    expected = {articles[key].slug for key in EXPECTED[name] if key != "draft"}
    assert found == expected


@pytest.mark.parametrize("name", ["anonymous", "teacher", "outsider"])
def test_search_page_hides_agents_articles(client, cast, articles, name):
    user = _user(cast, name)
    if user.is_authenticated:
        client.force_login(user)
    page = client.get(reverse("kb:search"), {"q": SECRET_WORD}).content.decode()
    assert articles["public"].get_absolute_url() in page
    assert articles["agents"].get_absolute_url() not in page
    assert "Само за експерти" not in page
    assert articles["draft"].get_absolute_url() not in page


@pytest.mark.parametrize("name", list(EXPECTED))
def test_suggestions_never_show_what_a_reader_may_not_open(cast, articles, name):
    found = {item["url"] for item in suggest_articles(_user(cast, name), SECRET_WORD)}
    expected = {articles[key].get_absolute_url() for key in EXPECTED[name] if key != "draft"}
    assert found == expected


def test_suggest_endpoint_hides_agents_articles(client, cast, articles):
    client.force_login(cast.teacher_a)
    data = client.get(reverse("kb:suggest"), {"q": SECRET_WORD}).json()
    urls = {item["url"] for item in data["results"]}
    assert articles["staff"].get_absolute_url() in urls
    assert articles["agents"].get_absolute_url() not in urls
    client.logout()
    data = client.get(reverse("kb:suggest"), {"q": SECRET_WORD}).json()
    assert {item["url"] for item in data["results"]} == {articles["public"].get_absolute_url()}
    assert data["token"] == ""


def test_portal_suggestions_hide_agents_articles(client, cast, articles):
    url = reverse("portal:suggest")
    client.force_login(cast.teacher_a)
    data = client.post(url, {"q": SECRET_WORD}, content_type="application/json").json()
    urls = {item["url"].split("?", 1)[0] for item in data["articles"]}
    assert articles["staff"].get_absolute_url() in urls
    assert articles["agents"].get_absolute_url() not in urls


def test_sitemap_lists_public_published_articles_only(client, cast, articles):
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    body = response.content.decode()
    assert articles["public"].get_absolute_url() in body
    for key in ("staff", "agents", "draft"):
        assert articles[key].get_absolute_url() not in body, key


@pytest.mark.parametrize("name", list(EXPECTED))
def test_attachments_follow_their_article(client, cast, articles, name):
    user = _user(cast, name)
    if user.is_authenticated:
        client.force_login(user)
    for key in ("public", "agents"):
        attachment = articles[key].attachments.get()
        response = client.get(attachment.get_absolute_url())
        expected = 200 if key in EXPECTED[name] else 404
        assert response.status_code == expected, (name, key)
        if expected == 200:
            assert response["Content-Type"] == "image/png"
            assert b"".join(response.streaming_content) == PNG


def test_category_page_and_index_hide_agents_articles(client, cast, articles, kb_content):
    agents_only = kb_content[("bg", "campaign-peak-handling")]
    assert agents_only.visibility == "agents"
    for user in (None, cast.teacher_a):
        if user:
            client.force_login(user)
        index = client.get(reverse("kb:index")).content.decode()
        assert agents_only.get_absolute_url() not in index
        assert articles["agents"].get_absolute_url() not in index
        # The agents' handbook has only agents-only articles: no page for others.
        assert client.get(reverse("kb:category", args=["agent-handbook"])).status_code == 404
    client.force_login(cast.expert_x)
    index = client.get(reverse("kb:index")).content.decode()
    assert agents_only.get_absolute_url() in index
    assert client.get(reverse("kb:category", args=["agent-handbook"])).status_code == 200


def test_seed_agents_articles_stay_hidden_everywhere(client, cast, kb_content):
    agents_only = kb_content[("bg", "campaign-peak-handling")]
    for user in (AnonymousUser(), cast.teacher_a):
        for query in ("натоварване кампании", "шаблонни отговори", agents_only.title):
            assert agents_only.pk not in {h.id for h in search_articles(user, query)}
            assert agents_only.pk not in {s["id"] for s in suggest_articles(user, query)}
    assert client.get(agents_only.get_absolute_url()).status_code == 404
    assert agents_only.get_absolute_url() not in client.get("/sitemap.xml").content.decode()
    assert agents_only.pk in {h.id for h in search_articles(cast.expert_x, "шаблонни отговори")}


def test_language_switch_links_to_a_visible_translation(client, cast, kb_content):
    page = client.get("/kb/bg/helpdesk-overview/").content.decode()
    assert 'href="/kb/en/helpdesk-overview/"' in page
    english = client.get("/kb/en/helpdesk-overview/").content.decode()
    assert 'href="/kb/bg/helpdesk-overview/"' in english


def test_unknown_language_is_404(client, kb_content):
    assert client.get("/kb/de/helpdesk-overview/").status_code == 404
