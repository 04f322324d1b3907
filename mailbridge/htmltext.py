"""Readable plain text from the HTML part of an e-mail.

The result is for reading and quote detection, not for display as HTML:
paragraphs and line breaks survive, lists become "- " items, links keep their
target as "text (url)", blockquotes become "> " lines so that quoted replies
can be folded like plain-text ones, and scripts and styles disappear.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Tags whose content is never shown to a reader.
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript", "xml", "svg"})

# Elements that may appear inside <head>; any other one ends an unclosed head.
_HEAD_TAGS = frozenset(
    {"head", "title", "meta", "link", "style", "script", "base", "noscript", "template", "xml"}
)

# Block elements: their content starts and ends on a line of its own.
_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "header",
        "main",
        "nav",
        "section",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "caption",
    }
)

# Blocks separated from their neighbours by an empty line.
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "ul", "ol"})

# Elements that never have content or an end tag.
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)

# Deeper quote and list levels are drawn like this one: no reader counts further.
_MAX_DEPTH = 10
# Beyond this many characters the HTML is cut before conversion (linear, but
# a 50 MB body would still hold a worker for minutes).
_MAX_HTML = 5_000_000

_WHITESPACE = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\ufeff]+")
_SPACES = re.compile(r" {2,}")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._pieces: list[str] = []
        self._line_depth = 0
        self._skip: list[str] = []
        self._pre = 0
        self._quote = 0
        self._lists: list[str] = []
        self._links: list[tuple[str, list[str]]] = []
        self._cells_in_row = 0
        self._prefix = ""

    # -- output helpers -------------------------------------------------

    def _write(self, text: str) -> None:
        if not text:
            return
        if not self._pieces:
            self._line_depth = self._quote
        self._pieces.append(text)

    def _end_line(self) -> None:
        line = "".join(self._pieces)
        self._pieces = []
        if self._pre == 0:
            line = _SPACES.sub(" ", line).strip(" ")
        else:
            line = line.rstrip(" ")
        prefix = "> " * min(self._line_depth, _MAX_DEPTH) + self._prefix
        self._prefix = ""
        self.lines.append(prefix + line if line else prefix.rstrip())
        self._line_depth = self._quote

    def _newline(self) -> None:
        """Finish the current line if it holds text."""
        if self._pieces and "".join(self._pieces).strip():
            self._end_line()
        else:
            self._pieces = []
            self._prefix = ""

    def _blank_line(self) -> None:
        self._newline()
        if self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append(self._quote_prefix())

    def _quote_prefix(self) -> str:
        """Return the prefix of an empty line at the current quote level.

        Capped like every other prefix: uncapped, each blank line of a deep
        quote cost as much as the quote is deep (quadratic time and output).
        """
        return "> " * min(self._quote, _MAX_DEPTH)

    # -- parser callbacks -----------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip and self._skip[0] == "head" and tag not in _HEAD_TAGS and ":" not in tag:
            # Browsers end an unclosed <head> at the first body element; so do we.
            self._skip.clear()
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.append(tag)
            return
        if tag in _SKIP_TAGS:
            self._skip.append(tag)
            return
        if tag == "br":
            if self._pieces:
                self._end_line()
            else:
                self.lines.append(self._quote_prefix())
        elif tag == "hr":
            self._newline()
            self.lines.append("----")
        elif tag in ("ul", "ol") and self._lists:
            # A nested list continues its parent item's list, without a gap.
            self._newline()
            self._lists.append(tag)
        elif tag in _PARAGRAPH_TAGS:
            self._blank_line()
            if tag == "pre":
                self._pre += 1
            elif tag in ("ul", "ol"):
                self._lists.append(tag)
        elif tag == "li":
            self._newline()
            self._prefix = "  " * min(max(len(self._lists) - 1, 0), _MAX_DEPTH) + "- "
        elif tag == "blockquote":
            self._blank_line()
            self._quote += 1
        elif tag in ("td", "th"):
            if self._cells_in_row and self._pieces:
                self._write(" ")
            self._cells_in_row += 1
        elif tag in _BLOCK_TAGS:
            self._newline()
            if tag == "tr":
                self._cells_in_row = 0
        elif tag == "a":
            # Links do not nest: a new one ends the open one, as in browsers.
            if self._links:
                self.handle_endtag("a")
            href = dict(attrs).get("href") or ""
            self._links.append((href.strip(), []))
        elif tag == "img":
            pass

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            return
        if tag in ("ul", "ol") and len(self._lists) > 1:
            self._newline()
            self._lists.pop()
        elif tag in _PARAGRAPH_TAGS:
            self._newline()
            if tag == "pre" and self._pre:
                self._pre -= 1
            elif tag in ("ul", "ol") and self._lists:
                self._lists.pop()
            self._blank_line()
        elif tag == "blockquote":
            self._newline()
            if self._quote:
                self._quote -= 1
            while self.lines and self.lines[-1].startswith(">") and not self.lines[-1].strip("> "):
                self.lines.pop()
            self._blank_line()
        elif tag == "li" or tag in _BLOCK_TAGS:
            self._newline()
        elif tag == "a" and self._links:
            href, pieces = self._links.pop()
            self._close_link(href, _WHITESPACE.sub(" ", "".join(pieces)).strip())

    def _close_link(self, href: str, text: str) -> None:
        if not href or href.lower().startswith(("#", "javascript:", "cid:", "data:")):
            return
        target = href[7:] if href.lower().startswith("mailto:") else href
        if not text:
            self._write(target)
        elif text != target and text != href and text.rstrip("/") != target.rstrip("/"):
            self._write(f" ({target})")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        for _href, pieces in self._links:
            pieces.append(data)
        if self._pre:
            parts = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._end_line()
                self._write(part.replace("\u00a0", " "))
            return
        text = _WHITESPACE.sub(" ", data)
        if text == " " and not self._pieces:
            return
        self._write(text)

    def finish(self) -> str:
        self.close()
        self._newline()
        kept: list[str] = []
        for line in self.lines:
            line = line.rstrip()
            # Keep at most one empty line (per quote level) in a row.
            if kept and not line.strip("> ") and kept[-1] == line:
                continue
            kept.append(line)
        return "\n".join(kept).strip("\n")


_MARKED_SECTION = re.compile(r"<!\[[^<>]*\]>")
_UNCLOSED_TAG = re.compile(r"<(?![^<>]*>)")


def _defuse(html: str) -> str:
    """Return ``html`` in a shape ``html.parser`` reads in linear time.

    The stdlib parser rescans to the end of the input for every "<" that
    does not close (and for unterminated comments and marked sections), so
    a few hundred kilobytes of such mail would take minutes. Comments are
    removed (an unterminated one hides the rest, as in browsers), Word's
    "<![if …]>" sections dropped, and every "<" that is not closed by ">"
    before the next "<" becomes text.
    """
    if "<!--" in html:
        pieces: list[str] = []
        position = 0
        while True:
            start = html.find("<!--", position)
            if start < 0:
                pieces.append(html[position:])
                break
            pieces.append(html[position:start])
            end = html.find("-->", start + 4)
            if end < 0:
                break
            position = end + 3
        html = "".join(pieces)
    if "<![" in html:
        html = _MARKED_SECTION.sub("", html).replace("<![", "&lt;![")
    return _UNCLOSED_TAG.sub("&lt;", html)


def html_to_text(html: str) -> str:
    """Return readable plain text for ``html`` (its first 5 million characters).

    Never raises for any string.
    """
    if not html:
        return ""
    builder = _TextBuilder()
    try:
        builder.feed(_defuse(html[:_MAX_HTML]))
        return builder.finish()
    except Exception:  # a parser bug must not lose the message
        text = re.sub(r"<[^<>]*>", " ", html[:_MAX_HTML])
        return _WHITESPACE.sub(" ", text).strip()
