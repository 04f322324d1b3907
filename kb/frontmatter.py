"""Read the knowledge-base seed content: Markdown articles with YAML front matter.

The content lives in ``kb/content``::

    categories.yml
    <lang>/<category-slug>/<article-slug>.md

The same article slug under ``bg`` and ``en`` is one article in two languages.
This module only reads and checks files; it knows nothing about the database,
so the importer, the tests and any script can share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

LANGUAGES = ("bg", "en")
VISIBILITIES = ("public", "staff", "agents")
STATUSES = ("published", "draft")
COMPETENCE_CODES = (
    "login",
    "delegation",
    "diplomas",
    "data_transfer",
    "duplicates",
    "ediary",
    "activity_docs",
    "institutions",
    "technical",
    "general",
)
REQUIRED_FIELDS = ("title", "summary", "tags", "competences", "visibility", "status", "order")
CATEGORY_FIELDS = ("slug", "name_bg", "name_en", "parent", "order")
CATEGORIES_FILE = "categories.yml"

_DELIMITER = "---"


@dataclass(frozen=True)
class ArticleSource:
    """One article file as read from disk."""

    lang: str
    category_slug: str
    slug: str
    meta: dict
    body: str
    path: Path


def parse_article(text: str, source: str = "<string>") -> tuple[dict, str]:
    """Return (front matter dict, Markdown body) of an article's text.

    The text must open with a ``---`` line, hold a YAML mapping and close it
    with another ``---`` line. ``source`` names the file in error messages.
    Raises ValueError when the front matter is missing, not valid YAML or not
    a mapping; field values are checked by ``meta_problems``.
    """
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != _DELIMITER:
        raise ValueError(f"{source}: front matter must start with a '---' line")
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip("\r\n").rstrip() == _DELIMITER:
            closing = index
            break
    else:
        raise ValueError(f"{source}: front matter is not closed with a '---' line")

    raw = "".join(lines[1:closing])
    try:
        meta = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{source}: front matter must be a YAML mapping")

    body = "".join(lines[closing + 1 :]).lstrip("\r\n")
    return meta, body


def meta_problems(meta: dict) -> list[str]:
    """Return human-readable problems of an article's front matter ([] when valid)."""
    problems = [f"missing field '{name}'" for name in REQUIRED_FIELDS if name not in meta]

    for name in ("title", "summary"):
        value = meta.get(name)
        if name in meta and (not isinstance(value, str) or not value.strip()):
            problems.append(f"'{name}' must be a non-empty string")

    for name in ("tags", "competences"):
        value = meta.get(name)
        if name in meta and (
            not isinstance(value, list) or not all(isinstance(item, str) for item in value)
        ):
            problems.append(f"'{name}' must be a list of strings")

    competences = meta.get("competences")
    if isinstance(competences, list):
        unknown = [code for code in competences if code not in COMPETENCE_CODES]
        if unknown:
            problems.append(f"unknown competence codes: {', '.join(map(str, unknown))}")

    if "visibility" in meta and meta["visibility"] not in VISIBILITIES:
        problems.append(f"'visibility' must be one of {', '.join(VISIBILITIES)}")
    if "status" in meta and meta["status"] not in STATUSES:
        problems.append(f"'status' must be one of {', '.join(STATUSES)}")

    order = meta.get("order")
    # bool is an int subclass; "order: yes" is a typo, not a position.
    if "order" in meta and (not isinstance(order, int) or isinstance(order, bool)):
        problems.append("'order' must be an integer")
    return problems


def read_article(path: Path, root: Path) -> ArticleSource:
    """Return the ArticleSource of one file under ``root``.

    Raises ValueError naming the file when its place in the tree or its front
    matter is wrong.
    """
    relative = path.relative_to(root)
    parts = relative.parts
    if len(parts) != 3:
        raise ValueError(f"{relative}: expected <lang>/<category-slug>/<article-slug>.md")
    lang, category_slug, filename = parts
    if lang not in LANGUAGES:
        raise ValueError(f"{relative}: unknown language '{lang}'")

    meta, body = parse_article(path.read_text(encoding="utf-8"), source=str(relative))
    problems = meta_problems(meta)
    if problems:
        raise ValueError(f"{relative}: bad front matter: {'; '.join(problems)}")
    return ArticleSource(
        lang=lang,
        category_slug=category_slug,
        slug=Path(filename).stem,
        meta=meta,
        body=body,
        path=path,
    )


def iter_content(root: Path) -> Iterator[ArticleSource]:
    """Yield every article under ``root`` in a stable order (by path).

    Raises ValueError naming the file on the first file with bad front matter.
    """
    root = Path(root)
    for lang in LANGUAGES:
        lang_dir = root / lang
        if not lang_dir.is_dir():
            continue
        for path in sorted(lang_dir.rglob("*.md")):
            yield read_article(path, root)


def load_categories(root: Path) -> list[dict]:
    """Return the categories of ``root/categories.yml``, parents before children.

    Each item is a dict with slug, name_bg, name_en, parent (slug or None) and
    order. Raises ValueError naming the file when an entry is incomplete, a
    slug repeats, a parent is unknown or nesting goes deeper than one level.
    """
    path = Path(root) / CATEGORIES_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"{path.name}: must be a YAML list of categories")

    categories: list[dict] = []
    seen: set[str] = set()
    for position, entry in enumerate(data, start=1):
        where = f"{path.name}: entry {position}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping")
        missing = [name for name in CATEGORY_FIELDS if name not in entry]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        slug = entry["slug"]
        if not isinstance(slug, str) or not slug:
            raise ValueError(f"{where}: slug must be a non-empty string")
        if slug in seen:
            raise ValueError(f"{where}: duplicate slug '{slug}'")
        if not isinstance(entry["order"], int) or isinstance(entry["order"], bool):
            raise ValueError(f"{where} ({slug}): order must be an integer")
        seen.add(slug)
        categories.append({name: entry[name] for name in CATEGORY_FIELDS})

    top_level = {item["slug"] for item in categories if item["parent"] is None}
    for item in categories:
        parent = item["parent"]
        if parent is not None and parent not in top_level:
            raise ValueError(
                f"{path.name} ({item['slug']}): parent '{parent}' is not a top-level category"
            )

    # Parents first so an importer can create them before their children;
    # children follow in the order of their parents, then their own order.
    parent_order = {item["slug"]: item["order"] for item in categories}

    def position(item: dict) -> tuple[int, int, int]:
        if item["parent"] is None:
            return (0, item["order"], 0)
        return (1, parent_order[item["parent"]], item["order"])

    return sorted(categories, key=position)
