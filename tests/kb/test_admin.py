"""The knowledge base in the administration: pages render, saves keep revisions."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kb.models import Announcement, Article, ArticleAttachment
from tests.kb.test_visibility import PNG

pytestmark = pytest.mark.django_db

MODELS = [
    "category",
    "article",
    "articlerevision",
    "articleattachment",
    "articlefeedback",
    "deflectionrecord",
    "searchdocument",
    "announcement",
    "announcementdismissal",
]


@pytest.mark.parametrize("model", MODELS)
def test_changelists_render(client, cast, kb_content, model):
    client.force_login(cast.admin)
    assert client.get(reverse(f"admin:kb_{model}_changelist")).status_code == 200


def test_article_change_page_shows_figures_and_history(client, cast, kb_content):
    client.force_login(cast.admin)
    article = kb_content[("bg", "helpdesk-overview")]
    page = client.get(reverse("admin:kb_article_change", args=[article.pk])).content.decode()
    assert article.revisions.get().get_absolute_url() in page


def _article_form(article, **changes):
    data = {
        "title": article.title,
        "slug": article.slug,
        "language": article.language,
        "category": article.category_id or "",
        "summary": article.summary,
        "body": article.body,
        "status": article.status,
        "visibility": article.visibility,
        "order": article.order,
        "tags": article.tags,
        "competences": [c.pk for c in article.competences.all()],
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": str(article.revisions.count()),
    }
    data.update(changes)
    return data


def test_saving_in_the_admin_writes_a_revision_and_reindexes(client, cast, make_article):
    from django.contrib.auth.models import AnonymousUser

    from kb.search import search_articles

    article = make_article(title="Преди", competences=[cast.diplomas])
    client.force_login(cast.admin)
    url = reverse("admin:kb_article_change", args=[article.pk])
    response = client.post(url, _article_form(article, title="Кочанът след редакция"))
    assert response.status_code == 302, response.content.decode()[:2000]
    article.refresh_from_db()
    assert article.title == "Кочанът след редакция"
    latest = article.revisions.first()
    assert (latest.number, latest.author) == (2, cast.admin)
    assert [h.id for h in search_articles(AnonymousUser(), "кочани")] == [article.pk]


def test_uploading_a_file_in_the_admin(client, cast, make_article):
    article = make_article()
    client.force_login(cast.admin)
    url = reverse("admin:kb_article_change", args=[article.pk])
    data = _article_form(article)
    data.update(
        {
            "attachments-TOTAL_FORMS": "1",
            "attachments-0-upload": SimpleUploadedFile("схема.png", PNG),
            "attachments-0-article": article.pk,
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    attachment = ArticleAttachment.objects.get()
    assert (attachment.content_type, attachment.uploaded_by) == ("image/png", cast.admin)


def test_a_disguised_file_is_refused_in_the_admin(client, cast, make_article):
    article = make_article()
    client.force_login(cast.admin)
    data = _article_form(article)
    data.update(
        {
            "attachments-TOTAL_FORMS": "1",
            "attachments-0-upload": SimpleUploadedFile("guide.pdf", b"MZ\x90\x00" * 50),
            "attachments-0-article": article.pk,
        }
    )
    response = client.post(reverse("admin:kb_article_change", args=[article.pk]), data)
    assert response.status_code == 200
    assert ArticleAttachment.objects.count() == 0


def test_deleting_in_the_admin_removes_it_from_search(client, cast, make_article):
    from django.contrib.auth.models import AnonymousUser

    from kb.search import search_articles

    article = make_article(title="Изтрийте ме")
    client.force_login(cast.admin)
    client.post(reverse("admin:kb_article_delete", args=[article.pk]), {"post": "yes"})
    assert not Article.objects.exists()
    assert search_articles(AnonymousUser(), "изтрийте") == []


def test_publish_action(client, cast, make_article):
    draft = make_article(status="draft")
    client.force_login(cast.admin)
    client.post(
        reverse("admin:kb_article_changelist"),
        {"action": "publish", "_selected_action": [draft.pk]},
    )
    draft.refresh_from_db()
    assert draft.is_published and draft.published_at is not None


def test_announcement_admin_sets_the_author_and_refreshes_the_banners(client, cast):
    import datetime

    from django.utils import timezone

    from kb.announcements import announcements_for

    assert announcements_for(cast.teacher_a) == []  # now cached as "nothing to show"
    client.force_login(cast.admin)
    start = timezone.localtime() - datetime.timedelta(hours=1)
    end = start + datetime.timedelta(days=2)
    response = client.post(
        reverse("admin:kb_announcement_add"),
        {
            "title": "Прекъсване",
            "text": "Вечерта",
            "regions": [cast.region_x.pk],
            "starts_at_0": start.strftime("%Y-%m-%d"),
            "starts_at_1": start.strftime("%H:%M:%S"),
            "ends_at_0": end.strftime("%Y-%m-%d"),
            "ends_at_1": end.strftime("%H:%M:%S"),
            "link_text": "",
            "show_on_portal": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Announcement.objects.get().created_by == cast.admin
    assert [a.title for a in announcements_for(cast.teacher_a)] == ["Прекъсване"]
    assert announcements_for(cast.teacher_b) == []
