"""Knowledge-base pages and endpoints: index, categories, articles, feedback,
files, the agents' lookup, drafts from replies and the report."""

import pytest
from django.urls import reverse

from kb import deflection, services
from kb.models import Article, ArticleFeedback
from tests.kb.test_visibility import PNG

pytestmark = pytest.mark.django_db


def test_index_lists_categories_and_public_articles(client, kb_content):
    page = client.get(reverse("kb:index")).content.decode()
    assert "Ръководство за потребителя" in page
    assert 'href="/kb/bg/helpdesk-overview/"' in page
    assert 'action="/kb/search/"' in page


def test_index_in_english_prefers_english_articles(client, kb_content):
    client.cookies["django_language"] = "en"
    page = client.get(reverse("kb:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/kb/en/helpdesk-overview/"' in page
    assert 'href="/kb/bg/helpdesk-overview/"' not in page


def test_index_falls_back_to_the_other_language(client, make_article):
    make_article(slug="only-bulgarian", title="Само на български")
    client.cookies["django_language"] = "en"
    page = client.get(reverse("kb:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/kb/bg/only-bulgarian/"' in page


def test_category_page(client, kb_content):
    response = client.get(reverse("kb:category", args=["user-guide"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Подаване на заявки" in page  # a subcategory
    assert 'href="/kb/bg/file-request-portal/"' in page
    assert client.get(reverse("kb:category", args=["no-such"])).status_code == 404


def test_article_page_has_a_table_of_contents(client, kb_content):
    page = client.get("/kb/bg/helpdesk-overview/").content.decode()
    assert 'data-test="kb-toc"' in page
    assert '<a href="#h-za-kakvo-sluzhi-sistemata">За какво служи системата</a>' in page
    assert '<h2 id="h-za-kakvo-sluzhi-sistemata">' in page
    assert '<link rel="canonical" href="http://testserver/kb/bg/helpdesk-overview/">' in page


def test_short_articles_have_no_table_of_contents(client, make_article):
    article = make_article(body="## Един раздел\n\nТекст.")
    assert 'data-test="kb-toc"' not in client.get(article.get_absolute_url()).content.decode()


def test_views_are_counted_but_not_for_agents(client, cast, make_article):
    article = make_article()
    client.get(article.get_absolute_url())
    client.force_login(cast.teacher_a)
    client.get(article.get_absolute_url())
    client.force_login(cast.expert_x)
    client.get(article.get_absolute_url())
    article.refresh_from_db()
    assert article.views == 2


def test_feedback_from_a_visitor(client, make_article):
    article = make_article()
    url = reverse("kb:article_feedback", args=["bg", article.slug])
    response = client.post(url, {"helpful": "no", "comment": "Липсва пример."})
    assert response.status_code == 302
    assert response["Location"].endswith("?thanks=1#feedback")
    feedback = ArticleFeedback.objects.get()
    assert (feedback.helpful, feedback.comment, feedback.user) == (False, "Липсва пример.", None)
    # The same visitor changes their mind: still one answer.
    client.post(url, {"helpful": "yes"})
    assert list(ArticleFeedback.objects.values_list("helpful", flat=True)) == [True]
    page = client.get(response["Location"]).content.decode()
    assert 'data-test="feedback-thanks"' in page


def test_feedback_from_a_person_is_one_answer(client, cast, make_article):
    article = make_article()
    client.force_login(cast.teacher_a)
    url = reverse("kb:article_feedback", args=["bg", article.slug])
    client.post(url, {"helpful": "yes"})
    client.post(url, {"helpful": "no", "comment": "Не"})
    feedback = ArticleFeedback.objects.get()
    assert (feedback.user, feedback.helpful, feedback.comment) == (cast.teacher_a, False, "Не")


def test_feedback_needs_an_answer_and_a_readable_article(client, cast, make_article):
    article = make_article()
    url = reverse("kb:article_feedback", args=["bg", article.slug])
    client.post(url, {"comment": "x"})
    assert ArticleFeedback.objects.count() == 0
    hidden = make_article(visibility="agents")
    hidden_url = reverse("kb:article_feedback", args=["bg", hidden.slug])
    assert client.post(hidden_url, {"helpful": "yes"}).status_code == 404
    assert client.get(url).status_code == 405


def test_search_page(client, kb_content):
    response = client.get(reverse("kb:search"), {"q": "дипломата"})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-test="kb-hits"' in page
    assert "<mark>" in page
    assert 'href="/kb/bg/scanned-image-rejected/"' in page
    empty = client.get(reverse("kb:search"), {"q": "ксилофон"}).content.decode()
    assert 'data-test="kb-hits"' not in empty


def test_search_page_all_languages(client, kb_content):
    page = client.get(reverse("kb:search"), {"q": "НЕИСПУО", "lang": "all"}).content.decode()
    assert "/kb/en/" in page and "/kb/bg/" in page


def test_attachment_upload_is_checked_by_content(cast, make_article):
    from helpdesk.uploads import UploadRejected

    article = make_article()
    with pytest.raises(UploadRejected):
        services.add_attachment(article, name="guide.pdf", data=b"MZ\x90\x00" * 100, actor=None)
    with pytest.raises(UploadRejected):
        services.add_attachment(article, name="notes.txt", data=b"plain text", actor=None)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    attachment = services.add_attachment(
        article, name="../../Ръководство.pdf", data=pdf, actor=None
    )
    assert attachment.content_type == "application/pdf"
    assert attachment.original_name == "Ръководство.pdf"
    assert "Ръководство" not in attachment.file.name


def test_attachment_is_served_inline_with_safe_headers(client, make_article):
    article = make_article()
    attachment = services.add_attachment(article, name="схема.png", data=PNG, actor=None)
    response = client.get(attachment.get_absolute_url())
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Content-Disposition"].startswith("inline")


def test_article_links_its_files(client, make_article):
    article = make_article()
    attachment = services.add_attachment(article, name="схема.png", data=PNG, actor=None)
    page = client.get(article.get_absolute_url()).content.decode()
    assert attachment.get_absolute_url() in page


# --- agents --------------------------------------------------------------------


def test_agent_search_is_for_agents_only(client, cast, kb_content):
    url = reverse("kb:agent_search")
    assert client.get(url, {"q": "диплома"}).status_code == 403
    client.force_login(cast.teacher_a)
    assert client.get(url, {"q": "диплома"}).status_code == 403
    client.force_login(cast.expert_x)
    data = client.get(url, {"q": "дипломата", "lang": "bg"}).json()
    first = data["results"][0]
    assert first["url"].startswith("http://testserver/kb/bg/")
    assert first["markdown"] == f"[{first['title']}]({first['url']})"
    assert {"id", "title", "summary", "visibility", "language", "snippet"} <= set(first)


def test_agent_search_can_keep_only_public_articles(client, cast, kb_content):
    client.force_login(cast.expert_x)
    url = reverse("kb:agent_search")
    everything = client.get(url, {"q": "шаблонни отговори"}).json()["results"]
    assert any(r["visibility"] == "agents" for r in everything)
    public = client.get(url, {"q": "шаблонни отговори", "public": "1"}).json()["results"]
    assert all(r["visibility"] == "public" for r in public)


@pytest.fixture
def reply(cast, make_ticket):
    from tickets import actions

    ticket = make_ticket()
    return actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        text=(
            "Сканирайте дипломата в PDF с 300 dpi.\n\n"
            "Ако пак не става, пишете на ivan@school.bg и посочете ЕГН 0041010101."
        ),
        channel="console",
    )


def test_draft_from_reply(cast, reply):
    article = services.draft_from_reply(reply, cast.expert_x)
    assert (article.status, article.visibility) == ("draft", "agents")
    assert article.title == reply.ticket.subject
    assert "300 dpi" in article.body
    assert "ivan@school.bg" not in article.body and "0041010101" not in article.body
    assert list(article.competences.all()) == [cast.diplomas]
    assert article.revisions.get().author == cast.expert_x
    assert reply.ticket.reference in article.revisions.get().note
    again = services.draft_from_reply(reply, cast.expert_x)
    assert again.slug != article.slug


def test_draft_from_reply_checks_who_asks(cast, reply, make_ticket):
    from helpdesk.errors import DomainError, NotAllowed

    for person in (cast.teacher_a, cast.director_a, cast.expert_y, cast.outsider):
        with pytest.raises(NotAllowed):
            services.draft_from_reply(reply, person)
    own_text = reply.ticket.messages.exclude(pk=reply.pk).first()
    with pytest.raises(DomainError):
        services.draft_from_reply(own_text, cast.expert_x)
    assert Article.objects.count() == 0


def test_draft_from_message_view(client, cast, reply):
    url = reverse("kb:draft_from_message", args=[reply.pk])
    client.force_login(cast.teacher_a)
    assert client.post(url).status_code == 403
    client.force_login(cast.expert_y)  # another region: cannot see the ticket
    assert client.post(url).status_code == 404
    client.force_login(cast.expert_x)
    assert client.get(url).status_code == 405
    response = client.post(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    article = Article.objects.get()
    assert response.json() == {"id": article.pk, "url": article.get_absolute_url()}
    # The expert can open the draft they made.
    assert client.get(article.get_absolute_url()).status_code == 200
    client.force_login(cast.admin)
    response = client.post(url)
    assert response["Location"] == reverse("admin:kb_article_change", args=[article.pk + 1])


def test_report_for_agents(client, cast, make_article):
    article = make_article(title="Статия с отчет")
    token = deflection.record_suggestions_shown(cast.teacher_a, [article.pk], "диплома")
    deflection.record_suggestion_clicked(token, article.pk)
    services.record_feedback(article, user=cast.teacher_a, helpful=False, comment="Неясно е")
    url = reverse("kb:report")
    assert client.get(url).status_code == 403
    client.force_login(cast.teacher_a)
    assert client.get(url).status_code == 403
    client.force_login(cast.supervisor_x)
    page = client.get(url).content.decode()
    assert "Статия с отчет" in page and "Неясно е" in page
    row = page.split(f'data-article="{article.pk}"', 1)[1].split("</tr>", 1)[0]
    # views, helpful, not helpful, suggested, opened, filed anyway
    assert [cell.split("<", 1)[0] for cell in row.split("<td>")[2:]] == [
        "0",
        "0",
        "1",
        "1",
        "1",
        "0",
    ]


def test_suggest_endpoint_records_what_it_showed(client, cast, make_article):
    article = make_article(title="Скенер и сканиране")
    client.force_login(cast.teacher_a)
    data = client.get(reverse("kb:suggest"), {"q": "сканиране"}).json()
    assert [r["id"] for r in data["results"]] == [article.pk]
    assert data["token"]
    assert data["results"][0]["open_url"] == f"{article.get_absolute_url()}?s={data['token']}"
    again = client.get(reverse("kb:suggest"), {"q": "скенер", "token": data["token"]}).json()
    assert again["token"] == data["token"]
    client.get(data["results"][0]["open_url"])
    figures = deflection.article_figures([article.pk])[article.pk]
    assert (figures.shown, figures.clicked) == (1, 1)
