"""helpdesk.sanitize.clean_html takes time linear in its input, whatever the input.

Hostile HTML used to stall bleach (html5lib) for minutes: 60,000 nested
<div>, but also a tag with thousands of attributes, a text node with thousands
of "&", a table with content outside its cells, linkify on a long hyphenated
word. These tests show the bounds three ways: wall-clock limits generous
enough not to be flaky, growth measured in CPU time (four times the input
must cost well under sixteen times the time: quadratic would), and the
reshaping pass itself, branch by branch, including that ordinary HTML comes
out exactly as plain bleach makes it.
"""

import re
import time
from pathlib import Path

import bleach
import pytest

from helpdesk import sanitize
from helpdesk.sanitize import MAX_DEPTH, clean_html
from tests.testservers import require_service

# --------------------------------------------------------------------------
# helpers

BAD = re.compile(r"<script|<iframe|<style|\son\w+\s*=|javascript:|<object|<form", re.I)


def plain_bleach(html: str) -> str:
    """The policy applied by bleach alone, as clean_html did before the reshaping."""
    cleaned = bleach.clean(
        sanitize._drop_invisible(html),
        tags=sanitize.ALLOWED_TAGS,
        attributes=sanitize.ALLOWED_ATTRIBUTES,
        protocols=sanitize.ALLOWED_PROTOCOLS,
        css_sanitizer=sanitize._CSS,
        strip=True,
        strip_comments=True,
    )
    return bleach.linkify(
        cleaned, callbacks=[sanitize._link_attrs], skip_tags=["pre", "code"], parse_email=False
    )


def cpu_seconds(function, argument) -> float:
    """Return the least CPU time of a few runs (CPU time ignores other processes)."""
    best = float("inf")
    for _ in range(2):
        started = time.process_time()
        function(argument)
        best = min(best, time.process_time() - started)
    return best


def growth(function, make, n: int) -> float:
    """Return cost(4n) / cost(n); linear work gives about 4, quadratic about 16."""
    small = cpu_seconds(function, make(n))
    large = cpu_seconds(function, make(4 * n))
    return large / max(small, 0.002)


# --------------------------------------------------------------------------
# bounded time on the reported attack and its relatives

DEEP = 60_000

# 60,000 start tags each (and as many end tags where there are any). Tables
# nest only inside cells: "<table><table>" makes two tables side by side, so
# that shape is among the growth tests below, not here.
DEEP_SHAPES = {
    "nested div": lambda n: "<div>" * n + "Текст" + "</div>" * n,
    "nested table": lambda n: (
        "<table><tr><td>" * (n // 3) + "Текст" + "</td></tr></table>" * (n // 3)
    ),
    "nested span": lambda n: "<span>" * n + "Текст" + "</span>" * n,
    "unclosed div": lambda n: "<div>" * n + "Текст",
    "unclosed mixed": lambda n: "<div><b><ul><li><blockquote>" * (n // 5) + "Текст",
    "alternating div span": lambda n: (
        "<div><span>" * (n // 2) + "Текст" + "</span></div>" * (n // 2)
    ),
    "alternating b i": lambda n: "<b><i>" * (n // 2) + "Текст",
    "misnested span div": lambda n: "<span><div></span>" * (n // 2) + "Текст",
}


@pytest.mark.parametrize("shape", DEEP_SHAPES)
def test_sixty_thousand_levels_are_sanitised_in_well_under_two_seconds(shape):
    """CPU time, so that other work on the machine does not count (it took minutes)."""
    html = DEEP_SHAPES[shape](DEEP)

    started = time.process_time()
    result = clean_html(html)
    elapsed = time.process_time() - started

    assert elapsed < 2.0, f"{shape}: {elapsed:.2f} s"
    assert "Текст" in result
    assert result.count("<div") <= MAX_DEPTH and result.count("<span") <= MAX_DEPTH


def test_nested_divs_keep_the_first_levels_and_drop_the_rest():
    depth = MAX_DEPTH + 50
    result = clean_html("<div>" * depth + "x" + "</div>" * depth)

    assert result == "<div>" * MAX_DEPTH + "x" + "</div>" * MAX_DEPTH


# Shapes that were quadratic (or worse) in bleach, html5lib or linkify. Sizes
# keep the larger input to a few tens of kilobytes: enough for a quadratic
# cost to show as sixteen times, small enough for the suite.
GROWTH_SHAPES = {
    "nested div": lambda n: "<div>" * n + "x" + "</div>" * n,
    "nested span": lambda n: "<span>" * n + "x",
    "nested cells": lambda n: "<table><tr><td>" * (n // 3) + "x",
    "tables in tables": lambda n: "<table>" * n + "x" + "</table>" * n,
    "nested formatting": lambda n: "".join(f"<font color={i}>" for i in range(n)) + "x",
    "span across div": lambda n: "<span><div></span>" * (n // 2),
    "adoption": lambda n: "<div>" + "<b><p>x</b>" * (n // 3),
    "reopened formatting": lambda n: "".join(f"<p><b id={i}>x</p>" for i in range(n // 3)),
    "table repairs": lambda n: "<table>" + "<b>x</b>" * (n // 2),
    "wide tree": lambda n: "<div>" + "<p><b>x</b></p>" * (n // 3),
    "many attributes": lambda n: "<div " + " ".join(f"a{i}" for i in range(n)) + ">x</div>",
    "long tag name": lambda n: "<a" + "b" * (8 * n) + ">x",
    "long attribute value": lambda n: '<a href="http://x.bg/' + "&" * (8 * n) + '">x</a>',
    "dashes in a comment": lambda n: "<!--" + "-x" * (4 * n) + "-->",
    "long doctype": lambda n: "<!DOCTYPE " + "a" * (8 * n) + ">",
    "ampersands in text": lambda n: "a&" * (2 * n),
    "entities in text": lambda n: "&nbsp;" * n,
    "less-than in text": lambda n: "1 < 2 " * n,
    "nul characters": lambda n: "a\x00" * (2 * n),
    "unterminated tag": lambda n: "a<" * (2 * n),
    "long numeric reference": lambda n: "&#" + "1" * (8 * n) + ";",
    "hyphenated words": lambda n: "a-" * (2 * n),
    "hyphenated names": lambda n: "a-b." * n,
    "opening parentheses": lambda n: "(" * (4 * n) + " x",
    "brackets after a link": lambda n: "http://x.bg/" + ")" * (4 * n),
}


# n for each shape: where bleach's own (linear) cost per piece is high, a
# smaller n keeps the suite quick; where the reshaping makes the input cheap,
# a larger one makes a quadratic cost plain.
SIZES = {
    "adoption": 500,
    "tables in tables": 500,
    "reopened formatting": 500,
    "wide tree": 500,
    "table repairs": 500,
    "nested span": 5000,
    "nested cells": 6000,
    "many attributes": 4000,
    "long tag name": 8000,
    "long attribute value": 8000,
    "dashes in a comment": 8000,
    "long doctype": 8000,
    "long numeric reference": 8000,
    "brackets after a link": 8000,
}


@pytest.mark.parametrize("shape", GROWTH_SHAPES)
def test_cost_grows_linearly(shape):
    ratio = growth(clean_html, GROWTH_SHAPES[shape], SIZES.get(shape, 1200))

    assert ratio < 8, f"{shape}: four times the input cost {ratio:.1f} times the time"


def test_deep_style_values_do_not_crash_the_css_parser():
    html = '<p style="color:' + "(" * 5000 + '">текст</p>'

    assert clean_html(html) == "<p>текст</p>"


# --------------------------------------------------------------------------
# what comes out is safe and keeps the text, on every path

HOSTILE = (
    "<img src=x onerror=alert(1)><script>alert(2)</script>"
    "<a href='javascript:alert(3)' onclick=x>връзка</a><iframe src=//evil></iframe>"
    '<p style="background:url(javascript:x)" onmouseover=y>абзац</p><form><input></form>'
    "<svg onload=alert(4)><object data=x></object>секрет"
)
HOSTILE_TEXT = ("връзка", "абзац", "секрет")

SAFETY_CASES = {
    "shallow": HOSTILE,
    "beyond the depth limit": "<div>" * (MAX_DEPTH + 20) + HOSTILE,
    "deep in a table": "<table><tr><td>" * 200 + HOSTILE,
    "deep formatting": "<b><i><u>" * 300 + HOSTILE,
    "after many attributes": "<div " + " ".join(f"a{i}" for i in range(500)) + ">" + HOSTILE,
    "inside a long text node": "a&" * 500 + HOSTILE,
    "misplaced in a table": "<table>" + "<b>x</b>" * 300 + HOSTILE,
    "split attack tag": "<div " * 200 + "<scr" + "ipt>alert(1)</script>" + HOSTILE,
    "unterminated tail": HOSTILE + "<a b" * 600,
}


def _forced(monkeypatch, path: str) -> None:
    if path in ("strict", "text"):
        monkeypatch.setattr(sanitize, "_STACK_LIMIT", 1)
    if path == "text":
        monkeypatch.setattr(sanitize, "_STRICT_STACK_LIMIT", 1)


@pytest.mark.parametrize("path", ["normal", "strict", "text"])
@pytest.mark.parametrize("case", SAFETY_CASES)
def test_result_is_safe_and_keeps_the_text(case, path, monkeypatch):
    _forced(monkeypatch, path)

    result = clean_html(SAFETY_CASES[case])

    assert not BAD.search(result), result[:300]
    for word in HOSTILE_TEXT:
        assert word in result


def test_strict_path_balances_the_tags_and_drops_tables(monkeypatch):
    _forced(monkeypatch, "strict")

    result = clean_html("<p><b>bold<div>block</div></p><table><tr><td>cell</td></tr></table>")

    assert result == "<p><b>bold</b></p><div>block</div>cell"


def test_text_path_keeps_only_text_and_breaks_blocks(monkeypatch):
    _forced(monkeypatch, "text")

    result = clean_html("<p>one <b>two</b></p><div>three &amp; four</div>1 < 2")

    assert result == "\none two\n\nthree &amp; four\n1 &lt; 2"


def test_linkify_is_skipped_when_its_guard_trips(monkeypatch):
    monkeypatch.setattr(sanitize, "_LINKIFY_STACK_LIMIT", 1)

    assert clean_html("<p>see http://example.bg</p>") == "<p>see http://example.bg</p>"


def test_tiers_are_tried_in_order(monkeypatch):
    limits = []
    sanitise = sanitize._sanitise

    def traced(text, limit):
        limits.append(limit)
        return sanitise(text, limit)

    monkeypatch.setattr(sanitize, "_sanitise", traced)

    clean_html("<p>ordinary</p>")
    assert limits == [sanitize._STACK_LIMIT]
    limits.clear()
    clean_html("<table>" + "<b>x</b>" * (sanitize._MAX_TABLE_REPAIRS + 5))
    assert limits == [sanitize._STACK_LIMIT, sanitize._STRICT_STACK_LIMIT]
    limits.clear()
    clean_html("".join(f"<p><b id={i}>x</p>" for i in range(sanitize._STACK_LIMIT + 5)))
    assert limits == [sanitize._STRICT_STACK_LIMIT]  # the model saw it coming


# --------------------------------------------------------------------------
# ordinary HTML comes out exactly as bleach alone makes it

ORDINARY = [
    "<p>Здравейте, <b>не мога</b> да вляза в <a href='https://neispuo.mon.bg/x?a=1&amp;b=2'>"
    "НЕИСПУО</a>.</p>",
    "<p>" + " ".join(f"a&amp;b &nbsp; &lt;x&gt; {i} &quot;q&quot;" for i in range(200)) + "</p>",
    "<pre>"
    + "\n".join(f"if (a &lt; b &amp;&amp; c) {{ x = &quot;{i}&quot;; }}" for i in range(300))
    + "</pre>",
    "Plain " + " & ".join(f"item{i}" for i in range(300)) + " https://x.bg/a-b-c?d=e&f=g end",
    "<div>" + "&nbsp;" * 500 + "http://example.com/?a=1&amp;b=2 more" + "&amp;" * 100 + "</div>",
    "<table><tr><td>a</td>stray text<td>b</td></tr>more<tr><td>c</tr></table>after",
    "<table>" + "<tr><td>cell &amp; more</td></tr>" * 200 + "</table>",
    "<b><p>bold paragraph</b> rest</p><i>one<div>two</i>three</div>",
    "<p>unclosed<p>paragraphs<p>everywhere" * 50,
    "<ul><li>one<li>two<ul><li>nested<li>more</ul><li>three</ul><dl><dt>t<dd>d<dt>t2<dd>d2</dl>",
    "<h1>Title<h2>Sub</h1>text</h2><h3>x</h3>",
    "<a href='http://a.bg'>one<a href='http://b.bg'>two</a></a> <a href='javascript:x'>x</a>",
    '<p style="color: red; font-weight: bold; background-image: url(http://e)">styled</p>',
    '<img src="cid:image001.png@01D2" alt="logo" width=10 height=20 onerror=alert(1)>',
    "<span><div></span>text</div><font color=red><p>a</font>b</p>",
    "x < y > z & w <3 <> </> <!-- c --> <!doctype html> <?php x ?> </ x> <![CDATA[y]]>",
    "Visit www.example.com, or (http://example.org/path_(x)). my-long-name.example.co.uk/p",
    "<div>" * 80 + "deep but within the limit" + "</div>" * 80,
    "<blockquote>" * 60 + "quoted" + "</blockquote>" * 60,
    "<div><b>" * 40 + "alternating" + "</b></div>" * 40,
    "<p>" + "<br>" * 300 + "</p>",
    "<p>" + "a<x>b</x>" * 200 + "</p>",
    "<p>" + "word <section>x</section> " * 100 + "</p>",
    "<p>&#1234; &#x41; &#99999999999999999999; &bogus; &amp</p>",
    "<TABLE BORDER=1><TR><TD>upper</TD></TR></TABLE><P ALIGN=center>Case</P>",
    "<o:p></o:p><v:shape id=x>vml</v:shape><w:WordDocument>w</w:WordDocument>",
    "<table><caption>c</caption><thead><tr><th>h</th></tr></thead><tbody><tr><td>1</td></tr>"
    "</tbody><tfoot><tr><td>f</td></tr></tfoot></table>",
    "<figure><img src='http://x/y.png'><figcaption>cap</figcaption></figure>",
    "<div title='a>b' data-x=\"<div>\">attribute with &gt;</div>",
    "<p>((((hello)))) ... ,,, !!! a-b-c-d-e-f-g-h-i-j.bg</p>",
    "<p><font face=Arial><b>" + "text<br>" * 100 + "</b></font></p>" * 5,
    "<html><head><title>T</title><style>p{}</style></head><body><p>body</p></body></html>",
    "<script>var a = '<div>';</script><p>after script</p><SCRIPT>x</SCRIPT >",
]


@pytest.mark.parametrize("index", range(len(ORDINARY)))
def test_ordinary_html_comes_out_as_bleach_makes_it(index):
    html = ORDINARY[index]

    assert clean_html(html) == plain_bleach(html)


CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "zammad-mail"


def test_real_world_mail_comes_out_as_bleach_makes_it():
    if not CORPUS.is_dir():
        # Beside the project in CI (../shared); a skip locally, a failure under CI=true.
        require_service("mail corpus", f"not found at {CORPUS}")
    from mailbridge.parsing import parse_message

    compared = 0
    for path in sorted(CORPUS.glob("*.box")):
        parsed = parse_message(path.read_bytes())  # sanitises its HTML body
        if parsed.html:
            assert parsed.safe_html == plain_bleach(parsed.html), path.name
            compared += 1
    assert compared > 20


OLD_INVISIBLE = re.compile(
    r"<(script|style|head|title|template|noscript|iframe|object)\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)


@pytest.mark.parametrize(
    "html",
    [
        "a<script>x</script>b",
        "<SCRIPT type=x>1</script >2<style>3</STYLE>4",
        "<script>unclosed <b>bold</b>",
        "<script>a</style>b</script>c",
        "<scripts>no</scripts><script>yes</script>",
        "<head><title>t</title></head>body",
        "<header>kept</header><head>x</head>",
        "<script <script>x</script>y</script>z",
        "<iframe src='a>b'>frame</iframe><object>o</object><noscript>n</noscript>",
        "<template><p>t</p></template><script>1</script><script>2",
        "<script>no end tag at all",
        "<script",
        "",
    ],
)
def test_invisible_elements_go_as_the_old_pattern_removed_them(html):
    assert sanitize._drop_invisible(html) == OLD_INVISIBLE.sub("", html)


def test_invisible_elements_are_removed_in_linear_time():
    ratio = growth(sanitize._drop_invisible, lambda n: "<script><style>" * n + "</script>", 5000)
    assert ratio < 8
    ratio = growth(sanitize._drop_invisible, lambda n: "<style>a" * n, 5000)
    assert ratio < 8


# --------------------------------------------------------------------------
# the scanner: where html5lib sees markup


def tokens(html):
    return [
        (token.kind, html[token.start : token.end], token.name, token.closing, token.complete)
        for token in sanitize._markup(html)
    ]


TAG, COMMENT, DOCTYPE, BOGUS_END, IGNORED = (
    sanitize._TAG,
    sanitize._COMMENT,
    sanitize._DOCTYPE,
    sanitize._BOGUS_END,
    sanitize._IGNORED,
)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("a<b>c</b>", [(TAG, "<b>", "b", False, True), (TAG, "</b>", "b", True, True)]),
        ("<DIV\tclass=x>", [(TAG, "<DIV\tclass=x>", "DIV", False, True)]),
        ("<a title=\"x>y\" b='1>2'>", [(TAG, "<a title=\"x>y\" b='1>2'>", "a", False, True)]),
        ("<a b=c>d", [(TAG, "<a b=c>", "a", False, True)]),
        ("<a b = c >", [(TAG, "<a b = c >", "a", False, True)]),
        ("<a b=>", [(TAG, "<a b=>", "a", False, True)]),
        ("<br/>", [(TAG, "<br/>", "br", False, True)]),
        ("<a/b>", [(TAG, "<a/b>", "a", False, True)]),
        ("</p x=1>", [(TAG, "</p x=1>", "p", True, True)]),
        ("x</>y", [(IGNORED, "</>", "", False, True)]),
        ("</ x>", [(BOGUS_END, "</ x>", "", False, True)]),
        ("</ x", [(BOGUS_END, "</ x", "", False, False)]),
        ("a</", []),
        ("1 < 2 <3 <", []),
        ("<!-- c -->", [(COMMENT, "<!-- c -->", "", False, True)]),
        ("<!-->x", [(COMMENT, "<!-->", "", False, True)]),
        ("<!--->x", [(COMMENT, "<!--->", "", False, True)]),
        ("<!-- a --!>x", [(COMMENT, "<!-- a --!>", "", False, True)]),
        ("<!-- a -- > -->", [(COMMENT, "<!-- a -- > -->", "", False, True)]),
        ("<!-- open", [(COMMENT, "<!-- open", "", False, False)]),
        ("<!DOCTYPE html>", [(DOCTYPE, "<!DOCTYPE html>", "", False, True)]),
        ("<!doctype", [(DOCTYPE, "<!doctype", "", False, False)]),
        ("<![CDATA[x]]>y]]>", [(COMMENT, "<![CDATA[x]]>", "", False, True)]),
        ("<?php x ?>", [(COMMENT, "<?php x ?>", "", False, True)]),
        ("<? open", [(COMMENT, "<? open", "", False, False)]),
        ("<abc", [(TAG, "<abc", "abc", False, False)]),
        ("<a b", [(TAG, "<a b", "a", False, False)]),
        ("<a b=", [(TAG, "<a b=", "a", False, False)]),
        ('<a b="open', [(TAG, '<a b="open', "a", False, False)]),
        ("<a b='x'", [(TAG, "<a b='x'", "a", False, False)]),
    ],
)
def test_scanner_finds_markup_as_html5lib_does(html, expected):
    assert [token[:5] for token in tokens(html)] == expected


def test_scanner_reads_attributes_with_their_values():
    html = "<a HREF=\"x\" b='y' c=z d e = f g=>"
    token = next(sanitize._markup(html))

    read = [
        (
            html[start:end],
            html[start:after],
            html[value_start:value_end] if value_start >= 0 else None,
        )
        for start, end, after, value_start, value_end, _quoted in token.attributes
    ]

    assert read == [
        ("HREF", 'HREF="x"', "x"),
        ("b", "b='y'", "y"),
        ("c", "c=z", "z"),
        ("d", "d", None),
        ("e", "e = f", "f"),
        ("g", "g=", None),
    ]


# --------------------------------------------------------------------------
# the model of html5lib's open elements


def model(html: str, strict: bool = False) -> sanitize._Elements:
    elements = sanitize._Elements(strict)
    for match in re.finditer(r"<(/?)(\w+)>|([^<]+)", html):
        if match.group(3):
            elements.text(match.group(3))
        elif match.group(1):
            elements.end(match.group(2))
        else:
            elements.start(match.group(2))
    return elements


def open_names(elements):
    return [
        name
        for name, state in zip(elements.names, elements.states, strict=True)
        if state == sanitize._OPEN
    ]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p><p>", ["p"]),
        ("<p><span><div>", ["div"]),
        ("<p><hr>", []),
        ("<li><li>", ["li"]),
        ("<li><div><li>", ["li"]),
        ("<ul><li><ul><li>", ["ul", "li", "ul", "li"]),
        ("<dd><dt>", ["dt"]),
        ("<li><dd>", ["li", "dd"]),
        ("<dd><li><dd>", ["dd", "li", "dd"]),
        ("<h1><h2>", ["h2"]),
        ("<h1><span><h2>", ["h1", "span", "h2"]),
        ("<div><span></div>", []),
        ("<span><div></span>", ["span", "div"]),
        ("<span><b></span>", []),
        ("<table><td></div>", ["table", "tbody", "tr", "td"]),
        ("<div><table></div>", ["div", "table"]),
        ("<p></p></p>", []),
        ("<ul><li></ul>", []),
        ("<ol><li><ul></li>", ["ol", "li", "ul"]),
        ("<h2><b></h3>", []),
        ("<b><i></b>", []),
        ("<b><p>x</b>", ["p"]),
        ("<b><pre><span><ul></b>", ["pre", "ul"]),
        ("<a><a>", ["a"]),
        ("<a><table><a>", ["table", "a"]),
        ("<b></b></b>", []),
        ("<td><tr>", []),
        ("<table>", ["table"]),
        ("<table><tr>", ["table", "tbody", "tr"]),
        ("<table><td>", ["table", "tbody", "tr", "td"]),
        ("<table><tbody><tr><td><td>", ["table", "tbody", "tr", "td"]),
        ("<table><tr><td><th>", ["table", "tbody", "tr", "th"]),
        ("<table><tr><td><tr>", ["table", "tbody", "tr"]),
        ("<table><thead><tbody>", ["table", "tbody"]),
        ("<table><caption><tr>", ["table", "tbody", "tr"]),
        ("<table><caption><table>", ["table", "caption", "table"]),
        ("<table><table>", []),
        ("<table><tr><table>", []),
        ("<table><tr><td><table>", ["table", "tbody", "tr", "td", "table"]),
        ("<table><div><td>", ["table", "tbody", "tr", "td"]),
        ("<table><td><div></td>", ["table", "tbody", "tr"]),
        ("<table><td></th>", ["table", "tbody", "tr", "td"]),
        ("<table><td></tr>", ["table", "tbody"]),
        ("<table><td></table>", []),
        ("<table><td><table></td>", ["table", "tbody", "tr", "td", "table"]),
        ("<table><td></caption>", ["table", "tbody", "tr", "td"]),
        ("<p><b></p>x", ["b"]),
        ("<p><b></p> ", ["b"]),
        ("<table><b><tr>x", ["table", "tbody", "tr", "b"]),
        ("<table><b><tr> ", ["table", "tbody", "tr"]),
        ("<p><b></p><span>", ["b", "span"]),
        ("<p><b></p><div>", ["div"]),
        ("<p><b></p><br>", ["b"]),
        ("<p><b></p><hr>", []),
        ("<p><b></p></b>x", []),
        ("<td><b></td>x", ["b"]),
        ("<table><td><b></td>x", ["table", "tbody", "tr"]),
        ("<b><b><b><b></b></b></b></b>x", []),
    ],
)
def test_model_follows_html5lib(html, expected):
    assert open_names(model(html)) == expected


@pytest.mark.parametrize(
    "html",
    [
        "<p><p>",
        "<span><div></span>",
        "<b><p>x</b>",
        "<table><tr><td>x</td><td>y</table>",
        "<p><b></p>x<div>y</div>",
        "<ul><li>a<li>b<ul><li>c</ul></ul>",
        "<table><b><tr>x</table>",
    ],
)
def test_model_depth_matches_html5lib_stack(html):
    """On these shapes the model's deepest point is html5lib's (without its root)."""
    deepest = []

    class Recording(list):
        def append(self, item):
            super().append(item)
            deepest.append(len(self))

    cleaner = bleach.sanitizer.Cleaner(tags=sanitize.ALLOWED_TAGS, strip=True)
    tree = cleaner.parser.tree
    reset = tree.reset

    def recording_reset():
        reset()
        tree.openElements = Recording()

    tree.reset = recording_reset
    cleaner.clean(html)

    elements = sanitize._Elements(False)
    most = 0
    for match in re.finditer(r"<(/?)(\w+)>|([^<]+)", html):
        if match.group(3):
            elements.text(match.group(3))
        elif match.group(1):
            elements.end(match.group(2))
        else:
            elements.start(match.group(2))
        most = max(most, elements.open)
    assert most == max(deepest) - 1


def test_model_drops_start_tags_beyond_the_depth_and_their_end_tags():
    elements = sanitize._Elements(False)
    kept = [elements.start("div")[0] for _ in range(MAX_DEPTH + 3)]
    ends = [elements.end("div")[0] for _ in range(MAX_DEPTH + 3)]

    assert kept == [True] * MAX_DEPTH + [False] * 3
    assert ends == [False] * 3 + [True] * MAX_DEPTH
    assert elements.open == 0 and elements.names == []


def test_model_keeps_empty_elements_beyond_the_depth():
    elements = sanitize._Elements(False)
    for _ in range(MAX_DEPTH):
        elements.start("div")

    assert elements.start("br") == (True, "")
    assert elements.start("span") == (False, "")


def test_model_ignored_end_tags_are_kept():
    elements = sanitize._Elements(False)

    assert elements.end("div") == (True, "")
    assert elements.end("br") == (True, "")


def test_strict_model_writes_every_end_tag():
    elements = sanitize._Elements(True)

    assert elements.start("p") == (True, "")
    assert elements.start("b") == (True, "")
    assert elements.start("div") == (True, "</b></p>")
    assert elements.start("table") == (False, "")
    assert elements.end("table") == (False, "")
    assert elements.start("span") == (True, "")
    assert elements.end("div") == (False, "</span></div>")
    assert elements.end("div") == (False, "")
    assert elements.end("br") == (False, "")
    assert elements.start("a") == (True, "")
    assert elements.start("a") == (True, "</a>")
    assert elements.start("li") == (True, "")
    assert elements.start("li") == (True, "</li>")


def test_strict_model_closes_formatting_with_blocks_inside():
    elements = sanitize._Elements(True)
    for name in ("b", "div", "i"):
        elements.start(name)

    assert elements.end("b") == (False, "</i></div></b>")


def test_reopening_more_than_the_guard_allows_goes_strict():
    elements = sanitize._Elements(False)
    for number in range(sanitize._STACK_LIMIT):
        elements.start("p")
        elements.start("b", f"id={number}")
        elements.end("p")
    elements.start("p")

    with pytest.raises(sanitize._TooComplex):
        elements.text("x")


def test_three_equal_formatting_elements_are_reopened_at_most():
    elements = model("<p>" + "<b>" * 5 + "</p>x")

    assert open_names(elements) == ["b", "b", "b"]


def test_long_formatting_list_is_trimmed():
    elements = sanitize._Elements(False)
    for number in range(4 * sanitize._STACK_LIMIT + 1):
        elements.start("b", f"id={number}")
        elements.pop_to(len(elements.names) - 1)

    assert len(elements.formatting) <= 2 * sanitize._STACK_LIMIT + 1


# --------------------------------------------------------------------------
# reshaping: what changes, and only when it must


def test_ordinary_html_is_returned_unchanged():
    html = ORDINARY[0]

    assert sanitize._prepare(html, strict=False) is html


def test_tag_with_too_many_attributes_keeps_the_allowed_ones():
    filler = " ".join(f"data-{i}=x" for i in range(sanitize._MAX_ATTRIBUTES))
    html = f'<a onclick=x href="http://a.bg" {filler} HREF="http://b.bg" title=t>link</a>'

    prepared = sanitize._prepare(html, strict=False)

    assert prepared == '<a href="http://a.bg" title=t>link</a>'
    assert clean_html(html) == plain_bleach(html)


def test_end_tag_with_too_many_attributes_is_bare():
    filler = " ".join(f"x{i}" for i in range(sanitize._MAX_ATTRIBUTES + 1))

    assert sanitize._prepare(f"<b>x</b {filler}>", strict=False) == "<b>x</b>"


def test_disallowed_tag_too_long_to_parse_is_shortened():
    name = "x" * (sanitize._MAX_NAME + 10)

    prepared = sanitize._prepare(f"a<{name} q=1>b</{name}>c", strict=False)

    assert prepared == f"a<{name[: sanitize._MAX_NAME]}>b</{name[: sanitize._MAX_NAME]}>c"


@pytest.mark.parametrize(
    ("attribute", "kept"),
    [
        ('style="' + "(" * (sanitize._MAX_BRACKETS + 1) + '"', False),
        ('style="color:red"', True),
        ('href="http://x/?' + "&" * (sanitize._MAX_VALUE_PIECES + 1) + '"', False),
        ('href="http://x/?' + "&" * sanitize._MAX_VALUE_PIECES + '"', True),
        ("href=http://x/" + "=" * (sanitize._MAX_VALUE_PIECES + 1), False),
        ('title="&#' + "1" * (sanitize._MAX_DIGITS + 1) + ';"', False),
        ('title="&#' + "1" * sanitize._MAX_DIGITS + ';"', True),
        ("t" * (sanitize._MAX_ATTRIBUTE_NAME + 1) + "=1", False),
    ],
)
def test_costly_attribute_values_are_dropped(attribute, kept):
    filler = " x" * sanitize._MAX_ATTRIBUTES  # makes the tag worth rebuilding
    html = f"<a {attribute}{filler}>x</a>"

    prepared = sanitize._prepare(html, strict=False)

    assert (attribute in prepared) is kept


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<!--" + "-" * 70 + "-->x", "<!---->x"),
        ("x<!--" + "-" * 70, "x"),
        ("<!-- short -->x", "<!-- short -->x"),
        ("<!DOCTYPE " + "a" * 300 + ">x", "x"),
        ("<!DOCTYPE html>x", "<!DOCTYPE html>x"),
    ],
)
def test_costly_comments_and_doctypes_are_emptied(html, expected):
    assert sanitize._prepare(html, strict=False) == expected


def test_long_numeric_reference_is_cut_and_shown_as_text():
    digits = "1" * (sanitize._MAX_DIGITS + 8)

    prepared = sanitize._prepare(f"a &#{digits}; &#x{digits};", strict=False)

    cut = sanitize._MAX_DIGITS
    assert prepared == (
        f"a &#{digits[:cut]}<!---->{digits[cut:]}; &#x{digits[:cut]}<!---->{digits[cut:]};"
    )
    assert clean_html(f"&#{digits};") == f"&amp;#{digits};"


def test_text_node_is_broken_every_few_dozen_pieces():
    html = "<p>" + "a&amp;" * 200 + "</p>"

    prepared = sanitize._prepare(html, strict=False)

    pieces = prepared.split("<!---->")
    assert len(pieces) == 4
    assert all(piece.count("&") <= sanitize._MAX_NODE_PIECES for piece in pieces)
    assert clean_html(html) == plain_bleach(html)


def test_element_boundaries_restart_the_count():
    html = ("<p>" + "a&amp;" * 60 + "</p>") * 10

    assert sanitize._prepare(html, strict=False) is html


def test_ignored_tags_do_not_stop_the_count_forever():
    html = ("a&" * 60 + "</span>") * 40

    prepared = sanitize._prepare(html, strict=False)

    assert prepared.count("<!---->") == len(html.split("&")) // sanitize._MAX_UNBROKEN_PIECES


def test_disallowed_tags_count_as_pieces():
    html = "<p>" + "x<section>" * 100 + "</p>"

    assert sanitize._prepare(html, strict=False).count("<!---->") == 1


def test_unterminated_tag_at_the_end_becomes_text():
    tail = "<a b" + " c" * sanitize._MAX_OPEN_TAIL
    html = "ok " + tail.replace("c c", "c&x c", 100)

    prepared = sanitize._prepare(html, strict=False)

    assert prepared.startswith("ok <!---->&lt;a b c")
    assert "<" not in prepared.replace("<!---->", "")
    assert clean_html("x <a b" + " c" * 10) == plain_bleach("x <a b" + " c" * 10)


def test_text_only_keeps_text_and_escapes_stray_brackets():
    text = sanitize._text_only("<p>a<b>b</b></p>1 < 2<!-- c --><div>c<x y")

    assert text == "\nab\n1 &lt; 2\nc&lt;x y"


# --------------------------------------------------------------------------
# guards and the linear tree walker


def test_bounded_stack_refuses_to_grow():
    stack = sanitize._BoundedStack(2)
    stack.append(1)
    stack.insert(0, 0)

    with pytest.raises(sanitize._TooComplex):
        stack.append(2)
    with pytest.raises(sanitize._TooComplex):
        stack.insert(0, 2)
    assert stack == [0, 1]


def test_guard_bounds_the_stack_and_table_repairs():
    assert sanitize._sanitise("<span>" * 20 + "x", 10) is None
    assert sanitize._sanitise("<span>" * 5 + "x", 10) == "<span>" * 5 + "x" + "</span>" * 5
    repairs = "<table>" + "<b>x</b>" * (sanitize._MAX_TABLE_REPAIRS + 1)
    assert sanitize._sanitise(repairs, 1000) is None
    fostered = "<div><table><b>x</b></table></div>"
    assert sanitize._sanitise(fostered, 1000) == "<div><b>x</b><table></table></div>"


@pytest.mark.parametrize(
    "html",
    [
        "<div>" + "<p><b>x</b>y</p>" * 50 + "</div>tail",
        "<p>text<b>bold<i>both</i></b>after</p><ul><li>a</li><li>b<br>c</li></ul>",
        "<table><tr><td>1</td><td>2</td></tr></table>text",
        "",
        "just text",
    ],
)
def test_linear_walker_walks_like_html5lib(html):
    parser = bleach.sanitizer.Cleaner(tags=sanitize.ALLOWED_TAGS).parser
    tree = parser.parseFragment(html)
    original = bleach.html5lib_shim.getTreeWalker("etree")

    assert list(sanitize._LinearWalker(tree)) == list(original(tree))


# --------------------------------------------------------------------------
# linkify's input is cut only where no address can be


def test_linkify_cuts_long_hyphen_chains_and_runs():
    chain = "-".join("w" * 3 for _ in range(40)) + ".bg"
    html = "<p>" + chain + " (" + "(" * 40 + ")</p>"

    prepared = sanitize._split_for_linkify(html)

    assert prepared.count("<!---->") == 2 + 2
    assert prepared.replace("<!---->", "") == html


def test_linkify_cuts_many_entities_at_a_space():
    text = " ".join(["x&amp;y"] * 100)

    prepared = sanitize._split_for_linkify(text)

    assert "<!----> x&amp;y" in prepared
    assert prepared.replace("<!---->", "") == text


def test_linkify_input_is_untouched_when_ordinary():
    html = "<p>see https://my-school.example.bg/a-b?c=1&amp;d=2 (and this).</p>"

    assert sanitize._split_for_linkify(html) is html


def test_links_survive_the_cuts():
    words = " ".join(["word&amp;"] * 100)
    html = f"<p>{words} https://neispuo.mon.bg/x?a=1&amp;b=2 {words}</p>"

    assert clean_html(html) == plain_bleach(html)
    assert clean_html(html).count('href="https://neispuo.mon.bg/x?a=1&amp;b=2"') == 1


def test_linear_walker_is_linear_on_wide_trees():
    parser = bleach.sanitizer.Cleaner(tags=sanitize.ALLOWED_TAGS).parser

    def walk(tree):
        for _token in sanitize._LinearWalker(tree):
            pass

    def wide(n):
        return parser.parseFragment("<div>" + "<p><b>x</b></p>" * n + "</div>")

    assert growth(walk, wide, 3000) < 8
