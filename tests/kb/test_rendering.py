"""Markdown rendering: sanitised HTML, heading anchors, table of contents, plain text.

Pure tests: run with ``-p no:django``.
"""

import pytest

from kb.rendering import TOC_MIN_HEADINGS, plain_text, render_markdown
from kb.slugs import slugify_text, transliterate

HOSTILE = """## Заглавие

<script>alert("x")</script>
<img src="x.png" onerror="alert(1)">
<a href="javascript:alert(1)">връзка</a>
[друга](javascript:alert(2))
<iframe src="https://evil.example/"></iframe>
<div onclick="steal()" style="position:fixed">текст</div>
<style>body { display: none }</style>

| колона | <b onmouseover="x()">клетка</b> |
|---|---|
| a | b |
"""


def test_markdown_with_embedded_html_and_script_is_sanitised():
    html = render_markdown(HOSTILE).html.lower()
    for bad in (
        "<script",
        "onerror",
        "onclick",
        "onmouseover",
        'href="javascript',
        "<iframe",
        "<style",
        "position:fixed",
        "display: none",
        "alert(1)",
    ):
        assert bad not in html, bad
    # A javascript: link in Markdown stays visible as text, never as a link.
    assert "<a" not in html.split("javascript:alert(2)")[0].rsplit("\n", 1)[-1]
    assert "текст" in html and "клетка" in html and "<table>" in html


def test_headings_get_unique_latin_anchors():
    rendered = render_markdown("## Вход\n\n### Парола\n\n## Вход\n\n#### Дълбоко\n")
    assert [h.anchor for h in rendered.headings] == ["h-vhod", "h-parola", "h-vhod-2"]
    assert [h.level for h in rendered.headings] == [2, 3, 2]
    assert '<h2 id="h-vhod">Вход</h2>' in rendered.html
    assert '<h2 id="h-vhod-2">Вход</h2>' in rendered.html


@pytest.mark.parametrize("count", [0, 1, TOC_MIN_HEADINGS - 1, TOC_MIN_HEADINGS, 6])
def test_table_of_contents_only_for_long_articles(count):
    text = "\n\n".join(f"## Раздел {n}\n\nтекст" for n in range(count))
    toc = render_markdown(text).toc
    assert len(toc) == (count if count >= TOC_MIN_HEADINGS else 0)


def test_heading_text_keeps_inline_code_and_drops_markup():
    rendered = render_markdown("## Домейн `edu.mon.bg` и **роли**\n")
    assert rendered.headings[0].text == "Домейн edu.mon.bg и роли"


def test_images_lists_tables_and_code_survive():
    html = render_markdown(
        "- едно\n- две\n\n![схема](/kb/files/1/schema.png)\n\n```\ncode\n```\n\n| a | b |\n|--|--|\n| 1 | 2 |\n"
    ).html
    assert "<ul>" in html and '<img src="/kb/files/1/schema.png" alt="схема">' in html
    assert "<pre><code>code" in html and "<td>1</td>" in html


def test_plain_text_drops_markup_and_scripts():
    text = plain_text(
        "**дипломата** е <b>тук</b> <script>alert(1)</script>\n\n<style>x</style>\n\n`код`"
    )
    assert text == "дипломата е тук код"


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Как се подава заявка", "kak-se-podava-zayavka"),
        ("Щастие, юни, ъгъл", "shtastie-yuni-agal"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_slugify_text(text, slug):
    assert slugify_text(text) == slug


def test_transliterate_keeps_latin():
    assert transliterate("edu.mon.bg Вход") == "edu.mon.bg vhod"
