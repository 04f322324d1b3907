"""Article Markdown to safe HTML, a table of contents, and plain text for search.

markdown-it-py (CommonMark plus tables) renders; helpdesk.sanitize.clean_html
then applies the project's one HTML policy, so raw HTML in an article (which
CommonMark passes through) can never carry a script or an event handler.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

from helpdesk.sanitize import clean_html
from kb.slugs import slugify_text

TOC_MIN_HEADINGS = 3
TOC_LEVELS = ("h2", "h3")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Rendered:
    """An article body as HTML (already sanitised) and its headings."""

    html: str
    headings: tuple[Heading, ...]

    @property
    def toc(self) -> tuple[Heading, ...]:
        """Return the headings for a table of contents; empty for short articles."""
        if len(self.headings) < TOC_MIN_HEADINGS:
            return ()
        return self.headings


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def render_markdown(text: str) -> Rendered:
    """Return the Rendered form of Markdown `text`.

    Level-2 and level-3 headings get stable, unique ids ("h-" + a Latin slug
    of their text) that the table of contents links to.
    """
    md = _parser()
    tokens = md.parse(text or "")
    headings: list[Heading] = []
    used: set[str] = set()
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.tag not in TOC_LEVELS:
            continue
        inline = tokens[index + 1]
        title = (
            "".join(
                child.content
                for child in (inline.children or [])
                if child.type in ("text", "code_inline")
            ).strip()
            or inline.content.strip()
        )
        anchor = _unique_anchor("h-" + (slugify_text(title) or "section"), used)
        token.attrSet("id", anchor)
        headings.append(Heading(level=int(token.tag[1]), text=title, anchor=anchor))
    raw = md.renderer.render(tokens, md.options, {})
    return Rendered(html=clean_html(raw), headings=tuple(headings))


def _unique_anchor(anchor: str, used: set[str]) -> str:
    candidate, number = anchor, 2
    while candidate in used:
        candidate = f"{anchor}-{number}"
        number += 1
    used.add(candidate)
    return candidate


_TAG = re.compile(r"<[^>]*>")
_INVISIBLE = re.compile(r"<(script|style|template|iframe|object)\b.*?</\1\s*>", re.I | re.S)
_OPEN_INVISIBLE = re.compile(r"<(script|style|template|iframe|object)\b", re.I)
_CLOSE_INVISIBLE = re.compile(r"</(script|style|template|iframe|object)\b", re.I)


def plain_text(text: str) -> str:
    """Return the readable text of Markdown `text`: no markup, no tags, no scripts.

    Walks markdown-it's tokens instead of sanitising rendered HTML: the result
    is only ever escaped before display, and this is many times faster.
    """
    parts: list[str] = []
    for token in _parser().parse(text or ""):
        if token.type in ("fence", "code_block"):
            parts.append(token.content)
        elif token.type == "html_block":
            parts.append(_strip_html(token.content))
        elif token.type == "inline":
            hidden = False
            for child in token.children or []:
                if child.type == "html_inline":
                    if _OPEN_INVISIBLE.match(child.content):
                        hidden = True
                    elif _CLOSE_INVISIBLE.match(child.content):
                        hidden = False
                    else:
                        parts.append(_strip_html(child.content))
                elif hidden:
                    continue
                elif child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append(" ")
                elif child.type == "image":
                    parts.append(child.content)
    return " ".join(html.unescape(" ".join(parts)).split())


def _strip_html(fragment: str) -> str:
    return _TAG.sub(" ", _INVISIBLE.sub(" ", fragment))
