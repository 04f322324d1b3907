"""Articles with embedded HTML or script render safe on their page."""

import pytest

pytestmark = pytest.mark.django_db

HOSTILE = """## Раздел

<script>document.title = "pwned"</script>
<img src="/x.png" onerror="alert(1)">
<a href="javascript:alert(1)">щракни</a>
<p onclick="alert(2)" style="background:url(javascript:alert(3))">абзац</p>
<iframe src="https://evil.example/"></iframe>
<form action="https://evil.example/"><input name="password"></form>
"""


def test_hostile_markdown_is_sanitised_on_the_page(client, make_article):
    article = make_article(body=HOSTILE, summary='<b onclick="x()">резюме</b>')
    page = client.get(article.get_absolute_url()).content.decode()
    body = page.split('data-test="kb-body"', 1)[1].split('<section id="feedback"', 1)[0]
    for bad in (
        "<script",
        "onerror",
        "onclick",
        "javascript:",
        "<iframe",
        "<form",
        'name="password"',
    ):
        assert bad not in body, bad
    assert "абзац" in body and "щракни" in body
    # The summary is plain text: escaped, not rendered.
    assert "&lt;b onclick=" in page


def test_title_is_escaped(client, make_article):
    article = make_article(title="<img src=x onerror=alert(1)>Заглавие")
    page = client.get(article.get_absolute_url()).content.decode()
    assert "<img src=x onerror" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;Заглавие" in page
