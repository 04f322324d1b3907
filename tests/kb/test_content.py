"""Checks of the knowledge-base seed content and of the front-matter parser.

Pure tests: no database, no Django settings; run with ``-p no:django``.
"""

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from kb.frontmatter import (
    COMPETENCE_CODES,
    LANGUAGES,
    REQUIRED_FIELDS,
    STATUSES,
    VISIBILITIES,
    iter_content,
    load_categories,
    meta_problems,
    parse_article,
)

CONTENT_ROOT = Path(__file__).resolve().parents[2] / "kb" / "content"
MIN_ARTICLES_PER_LANGUAGE = 18

ARTICLES = list(iter_content(CONTENT_ROOT))
CATEGORIES = load_categories(CONTENT_ROOT)


def _ids(articles):
    return [f"{a.lang}/{a.category_slug}/{a.slug}" for a in articles]


def _by_lang(lang):
    return {(a.category_slug, a.slug): a for a in ARTICLES if a.lang == lang}


# --- the parser --------------------------------------------------------------

GOOD = "---\ntitle: Заглавие\norder: 3\n---\n\n# Текст\n"


@pytest.mark.parametrize(
    ("text", "meta", "body"),
    [
        (GOOD, {"title": "Заглавие", "order": 3}, "# Текст\n"),
        ("\ufeff" + GOOD, {"title": "Заглавие", "order": 3}, "# Текст\n"),
        (GOOD.replace("\n", "\r\n"), {"title": "Заглавие", "order": 3}, "# Текст\r\n"),
        ("---\ntitle: x\n---\n", {"title": "x"}, ""),
        ("---\ntitle: x\n---\nbody\n---\nmore\n", {"title": "x"}, "body\n---\nmore\n"),
    ],
)
def test_parse_article_splits_meta_and_body(text, meta, body):
    assert parse_article(text) == (meta, body)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: x\n", "must start with a '---' line"),
        ("", "must start with a '---' line"),
        ("---\ntitle: x\n", "not closed"),
        ("---\ntitle: [x\n---\n", "not valid YAML"),
        ("---\n- a\n- b\n---\n", "must be a YAML mapping"),
        ("---\n---\nbody\n", "must be a YAML mapping"),
    ],
)
def test_parse_article_names_the_file_on_bad_front_matter(text, message):
    with pytest.raises(ValueError, match=message) as excinfo:
        parse_article(text, source="bg/x/y.md")
    assert str(excinfo.value).startswith("bg/x/y.md: ")


VALID_META = {
    "title": "t",
    "summary": "s",
    "tags": ["a"],
    "competences": ["login"],
    "visibility": "public",
    "status": "published",
    "order": 1,
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"title": ""}, "'title' must be a non-empty string"),
        ({"summary": None}, "'summary' must be a non-empty string"),
        ({"tags": "a, b"}, "'tags' must be a list of strings"),
        ({"competences": ["login", "payroll"]}, "unknown competence codes: payroll"),
        ({"visibility": "secret"}, "'visibility' must be one of"),
        ({"status": "archived"}, "'status' must be one of"),
        ({"order": "1"}, "'order' must be an integer"),
        ({"order": True}, "'order' must be an integer"),
    ],
)
def test_meta_problems_reports_bad_values(change, problem):
    problems = meta_problems({**VALID_META, **change})
    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_meta_problems_reports_each_missing_field():
    assert meta_problems({}) == [f"missing field '{name}'" for name in REQUIRED_FIELDS]
    assert meta_problems(VALID_META) == []


def test_iter_content_names_the_file_with_bad_front_matter(tmp_path):
    article = tmp_path / "bg" / "general-consultation" / "broken.md"
    article.parent.mkdir(parents=True)
    article.write_text("---\ntitle: x\n---\nbody\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bg/general-consultation/broken\.md: bad front matter"):
        list(iter_content(tmp_path))


def test_iter_content_rejects_files_outside_the_layout(tmp_path):
    stray = tmp_path / "en" / "stray.md"
    stray.parent.mkdir(parents=True)
    stray.write_text(GOOD, encoding="utf-8")
    with pytest.raises(ValueError, match=r"en/stray\.md: expected <lang>/"):
        list(iter_content(tmp_path))


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("slug: a\n", "must be a YAML list"),
        ("- slug: a\n  name_bg: А\n", "missing name_en, parent, order"),
        (
            "- {slug: a, name_bg: А, name_en: A, parent: null, order: 1}\n"
            "- {slug: a, name_bg: Б, name_en: B, parent: null, order: 2}\n",
            "duplicate slug 'a'",
        ),
        (
            "- {slug: a, name_bg: А, name_en: A, parent: nowhere, order: 1}\n",
            "parent 'nowhere' is not a top-level category",
        ),
        (
            "- {slug: a, name_bg: А, name_en: A, parent: null, order: 1}\n"
            "- {slug: b, name_bg: Б, name_en: B, parent: a, order: 1}\n"
            "- {slug: c, name_bg: В, name_en: C, parent: b, order: 1}\n",
            "parent 'b' is not a top-level category",
        ),
    ],
)
def test_load_categories_rejects_bad_files(tmp_path, yaml_text, message):
    (tmp_path / "categories.yml").write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as excinfo:
        load_categories(tmp_path)
    assert str(excinfo.value).startswith("categories.yml")


def test_load_categories_returns_parents_before_children(tmp_path):
    (tmp_path / "categories.yml").write_text(
        "- {slug: child, name_bg: Д, name_en: C, parent: top, order: 1}\n"
        "- {slug: top, name_bg: Г, name_en: T, parent: null, order: 5}\n",
        encoding="utf-8",
    )
    assert [c["slug"] for c in load_categories(tmp_path)] == ["top", "child"]


# --- the seed content --------------------------------------------------------


@pytest.mark.parametrize("article", ARTICLES, ids=_ids(ARTICLES))
def test_article_front_matter_is_valid(article):
    assert meta_problems(article.meta) == []
    assert article.meta["visibility"] in VISIBILITIES
    assert article.meta["status"] in STATUSES
    assert set(article.meta["competences"]) <= set(COMPETENCE_CODES)
    assert article.meta["competences"], "every article names at least one competence"
    assert article.body.strip(), "article body is empty"


@pytest.mark.parametrize("article", ARTICLES, ids=_ids(ARTICLES))
def test_article_renders_as_markdown(article):
    html = MarkdownIt("commonmark").enable("table").render(article.body)
    assert "<p>" in html or "<h2>" in html


def test_categories_referenced_by_articles_exist():
    known = {c["slug"] for c in CATEGORIES}
    missing = sorted({a.category_slug for a in ARTICLES} - known)
    assert missing == []


def test_categories_have_names_in_both_languages():
    for category in CATEGORIES:
        assert category["name_bg"].strip() and category["name_en"].strip(), category["slug"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_enough_articles_per_language(lang):
    assert len(_by_lang(lang)) >= MIN_ARTICLES_PER_LANGUAGE


def test_article_slugs_are_unique_per_language():
    for lang in LANGUAGES:
        slugs = [a.slug for a in ARTICLES if a.lang == lang]
        assert len(slugs) == len(set(slugs)), lang


def test_every_article_has_a_translation_in_the_same_category():
    bg, en = _by_lang("bg"), _by_lang("en")
    assert sorted(set(bg) - set(en)) == [], "bg articles without an en translation"
    assert sorted(set(en) - set(bg)) == [], "en articles without a bg original"


@pytest.mark.parametrize("field", ["visibility", "status", "competences", "order"])
def test_translations_agree_on_language_neutral_fields(field):
    bg, en = _by_lang("bg"), _by_lang("en")
    for key, article in bg.items():
        assert article.meta[field] == en[key].meta[field], key


def test_there_is_an_agents_only_and_a_staff_article():
    visibilities = {a.meta["visibility"] for a in ARTICLES}
    assert {"agents", "staff"} <= visibilities


def test_every_competence_area_has_an_answer():
    covered = {code for a in ARTICLES for code in a.meta["competences"]}
    assert covered == set(COMPETENCE_CODES)


def test_user_guide_overview_has_sections_for_a_table_of_contents():
    bg = _by_lang("bg")[("user-guide", "helpdesk-overview")]
    assert bg.body.count("\n## ") >= 4
