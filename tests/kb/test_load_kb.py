"""load_kb: idempotent, updates changed files, keeps edits made in the admin."""

import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kb import services
from kb.models import Article, Category

pytestmark = pytest.mark.django_db

CONTENT = Path(__file__).resolve().parents[2] / "kb" / "content"


@pytest.fixture
def content(tmp_path):
    root = tmp_path / "content"
    root.mkdir()
    shutil.copy(CONTENT / "categories.yml", root / "categories.yml")
    for lang in ("bg", "en"):
        target = root / lang / "user-guide"
        target.mkdir(parents=True)
        shutil.copy(CONTENT / lang / "user-guide" / "helpdesk-overview.md", target)
    return root


def load(root, *extra):
    call_command("load_kb", "--path", str(root), *extra, verbosity=0)


def overview(lang="bg"):
    return Article.objects.get(language=lang, slug="helpdesk-overview")


def test_loads_the_whole_seed_content(kb_content):
    assert len(kb_content) >= 36
    article = kb_content[("bg", "helpdesk-overview")]
    assert article.is_published and article.visibility == "public"
    assert article.category.slug == "user-guide"
    assert article.revisions.count() == 1
    assert Category.objects.get(slug="filing-requests").parent.slug == "user-guide"
    assert set(
        kb_content[("bg", "scanned-image-rejected")].competences.values_list("code", flat=True)
    )


def test_a_second_run_changes_nothing(kb_content):
    before = {a.pk: (a.updated_at, a.revisions.count()) for a in Article.objects.all()}
    call_command("load_kb", verbosity=0)
    after = {a.pk: (a.updated_at, a.revisions.count()) for a in Article.objects.all()}
    assert before == after


def test_a_changed_file_updates_the_article_with_a_revision(content):
    load(content)
    path = content / "bg" / "user-guide" / "helpdesk-overview.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nНов абзац.\n", encoding="utf-8")
    load(content)
    article = overview()
    assert article.body.rstrip().endswith("Нов абзац.")
    assert article.revisions.count() == 2
    assert overview("en").revisions.count() == 1


def test_a_metadata_change_writes_no_revision(content):
    load(content)
    path = content / "bg" / "user-guide" / "helpdesk-overview.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("order: 10", "order: 11", 1), encoding="utf-8"
    )
    load(content)
    assert overview().order == 11
    assert overview().revisions.count() == 1


def test_an_article_edited_in_the_admin_is_kept_unless_forced(content, cast):
    load(content)
    article = overview()
    article.title = "Редактирано в администрацията"
    services.save_article(article, actor=cast.admin)
    path = content / "bg" / "user-guide" / "helpdesk-overview.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nОще.\n", encoding="utf-8")
    load(content)
    assert overview().title == "Редактирано в администрацията"
    load(content, "--force")
    assert overview().title != "Редактирано в администрацията"
    assert overview().body.rstrip().endswith("Още.")
    assert overview().revisions.count() == 3


def test_an_article_written_in_the_admin_with_the_same_slug_is_kept(content, make_article):
    make_article(slug="helpdesk-overview", title="Собствена статия")
    load(content)
    assert overview().title == "Собствена статия"


def test_bad_content_stops_with_a_clear_error(content):
    (content / "bg" / "user-guide" / "broken.md").write_text("no front matter", encoding="utf-8")
    with pytest.raises(CommandError, match="broken.md"):
        load(content)
    assert Article.objects.count() == 0


def test_loaded_articles_are_searchable(content):
    from django.contrib.auth.models import AnonymousUser

    from kb.search import search_articles

    load(content)
    assert [
        h.article.slug for h in search_articles(AnonymousUser(), "номера на заявката", "bg")
    ] == ["helpdesk-overview"]
