"""Revisions: every text change is kept with author and time; diff and restore."""

import pytest
from django.urls import reverse

from helpdesk.errors import DomainError, NotAllowed
from kb import services
from kb.models import ArticleRevision

pytestmark = pytest.mark.django_db


@pytest.fixture
def article(cast, make_article):
    return make_article(
        actor=cast.admin,
        title="Как се въвежда диплома",
        summary="Стъпки.",
        body="## Стъпка 1\n\nОтворете регистъра.\n\n## Стъпка 2\n\nВъведете данните.\n",
    )


def edit(article, actor, **changes):
    for name, value in changes.items():
        setattr(article, name, value)
    return services.save_article(article, actor=actor)


def test_creating_writes_revision_one(cast, article):
    revision = article.revisions.get()
    assert revision.number == 1
    assert revision.author == cast.admin
    assert revision.body == article.body


def test_an_edit_writes_a_revision_with_author_and_time(cast, article):
    revision = edit(article, cast.expert_x, body=article.body + "\nНов ред.\n")
    assert revision.number == 2
    assert revision.author == cast.expert_x
    assert revision.created_at >= article.created_at
    assert article.updated_by == cast.expert_x
    assert list(article.revisions.values_list("number", flat=True)) == [2, 1]


def test_a_save_without_text_changes_writes_no_revision(cast, article):
    assert edit(article, cast.admin, order=5, visibility="staff") is None
    assert article.revisions.count() == 1


def test_crlf_from_a_browser_is_not_a_change(cast, article):
    assert edit(article, cast.admin, body=article.body.replace("\n", "\r\n")) is None


def test_restore_adds_a_revision_with_the_old_text(cast, article):
    original = article.revisions.get(number=1)
    edit(article, cast.admin, title="Ново заглавие", body="Съвсем друг текст.")
    restored = services.restore_revision(original, actor=cast.admin)
    article.refresh_from_db()
    assert restored.number == 3
    assert "Restored" in restored.note or "Възстанов" in restored.note
    assert (article.title, article.body) == (original.title, original.body)
    # History is never rewritten.
    assert article.revisions.count() == 3
    assert article.revisions.get(number=2).title == "Ново заглавие"


def test_restore_needs_the_edit_permission(cast, article):
    original = article.revisions.get(number=1)
    edit(article, cast.admin, title="Друго")
    with pytest.raises(NotAllowed):
        services.restore_revision(original, actor=cast.expert_x)
    with pytest.raises(NotAllowed):
        services.restore_revision(original, actor=cast.teacher_a)


def test_restoring_the_current_text_is_refused(cast, article):
    with pytest.raises(DomainError):
        services.restore_revision(article.revisions.get(), actor=cast.admin)


def test_restore_updates_the_search_index(cast, article):
    from django.contrib.auth.models import AnonymousUser

    from kb.search import search_articles

    original = article.revisions.get(number=1)
    edit(article, cast.admin, title="Удостоверение", body="Нищо.")
    assert search_articles(AnonymousUser(), "регистъра") == []
    services.restore_revision(original, actor=cast.admin)
    assert [h.id for h in search_articles(AnonymousUser(), "регистъра")] == [article.pk]


def test_revision_pages_for_agents(client, cast, article):
    edit(article, cast.admin, body=article.body.replace("Отворете", "Влезте в"))
    client.force_login(cast.expert_x)
    listing = client.get(reverse("kb:revisions", args=["bg", article.slug]))
    assert listing.status_code == 200
    assert listing.content.decode().count('href="/kb/revisions/') == 2
    old = article.revisions.get(number=1)
    page = client.get(reverse("kb:revision", args=[old.pk])).content.decode()
    assert '<div class="removed">Отворете регистъра.</div>' in page
    assert '<div class="added">Влезте в регистъра.</div>' in page
    # Experts may look but not restore.
    assert 'data-test="kb-restore"' not in page
    response = client.post(reverse("kb:revision_restore", args=[old.pk]))
    assert response.status_code == 403


def test_revision_pages_are_hidden_from_staff_and_visitors(client, cast, article):
    old = article.revisions.get()
    for user in (None, cast.teacher_a, cast.director_a):
        if user:
            client.force_login(user)
        assert client.get(reverse("kb:revisions", args=["bg", article.slug])).status_code == 404
        assert client.get(reverse("kb:revision", args=[old.pk])).status_code == 404
        assert client.post(reverse("kb:revision_restore", args=[old.pk])).status_code == 404


def test_restore_through_the_page(client, cast, article):
    old = article.revisions.get(number=1)
    edit(article, cast.admin, title="Временно заглавие")
    client.force_login(cast.admin)
    response = client.post(reverse("kb:revision_restore", args=[old.pk]))
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.title == "Как се въвежда диплома"
    assert article.revisions.first().author == cast.admin


def test_a_diff_of_hostile_text_is_shown_as_text(client, cast, article):
    edit(article, cast.admin, body=article.body + "\n<script>alert(1)</script>\n")
    client.force_login(cast.admin)
    old = article.revisions.get(number=1)
    page = client.get(reverse("kb:revision", args=[old.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_revision_numbers_are_unique_per_article(cast, article, make_article):
    other = make_article()
    assert other.revisions.get().number == 1
    assert ArticleRevision.objects.filter(number=1).count() == 2
