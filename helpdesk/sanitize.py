"""The one HTML policy: everything shown as HTML from mail or Markdown passes here.

bleach (html5lib underneath) does the sanitising. On hostile input html5lib
works quadratically or worse in several places: every start tag checks the
open elements down to a scope boundary (60,000 nested ``<div>`` took
minutes), names and attribute values grow one character at a time, a text
node is re-copied for every ``&``, content misplaced in a table is inserted by
searching its parent's children, the tree walker looks up every parent among
its siblings, and linkify's URL pattern backtracks over long hyphenated words.

``clean_html`` therefore reshapes its input in one linear pass before bleach
sees it (``_prepare``): start tags deeper than ``MAX_DEPTH`` open elements are
dropped with their end tags (their text stays), tags with absurd attribute
lists or names are cut down to what the policy keeps, huge comments and
doctypes (stripped anyway) are emptied, and text nodes are split by empty
comments (stripped anyway) so that no node takes more than a few dozen
pieces. For ordinary HTML the pass changes nothing and the result is
exactly bleach's. bleach then runs with guards that stop it, instead of
stalling, when the reshaping was not enough (the open-element stack or table
repairs beyond fixed bounds); the input is then reshaped strictly (balanced,
no tables) and, should even that trip a guard, reduced to its text. Every
step is linear in the input, so the whole call is.
"""

import html as html_lib
import re
from bisect import bisect_left, bisect_right

from bleach import html5lib_shim
from bleach.css_sanitizer import CSSSanitizer
from bleach.linkifier import Linker
from bleach.sanitizer import Cleaner

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "div",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
        "dl",
        "dt",
        "dd",
        "del",
        "ins",
        "caption",
        "figure",
        "figcaption",
        "font",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align", "scope"],
    "*": ["style"],
    "h1": ["id"],
    "h2": ["id"],
    "h3": ["id"],
    "h4": ["id"],
    "code": ["class"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "cid"})
_CSS = CSSSanitizer(
    allowed_css_properties=[
        "color",
        "background-color",
        "font-weight",
        "font-style",
        "text-decoration",
        "text-align",
        "margin-left",
        "padding-left",
    ]
)

# Elements open at once in what reaches bleach; deeper start tags are dropped
# (their text stays). No message or article comes near it.
MAX_DEPTH = 100


def _link_attrs(attrs, new=False):
    href_key = (None, "href")
    href = attrs.get(href_key, "")
    if href.startswith(("http://", "https://")):
        attrs[(None, "rel")] = "nofollow noopener noreferrer"
        attrs[(None, "target")] = "_blank"
    return attrs


def clean_html(html: str) -> str:
    """Return `html` reduced to a safe subset: no script, no handlers, no remote tricks.

    Takes time linear in the length of `html`, whatever its shape.
    """
    if not html:
        return ""
    html = _drop_invisible(html)
    try:
        cleaned = _sanitise(_prepare(html, strict=False), _STACK_LIMIT)
    except _TooComplex:  # the model saw html5lib's guard would trip
        cleaned = None
    if cleaned is None:
        cleaned = _sanitise(_prepare(html, strict=True), _STRICT_STACK_LIMIT)
    if cleaned is None:
        cleaned = _sanitise(_prepare(_text_only(html), strict=True), _STRICT_STACK_LIMIT)
    if cleaned is None:  # nothing is left that could trip a guard; kept for safety
        return html_lib.escape(_text_only(html), quote=False)
    return _linkify(cleaned)


# ---------------------------------------------------------------------------
# Invisible elements

# Elements whose content is never readable text: drop them whole, not only
# their tags (bleach keeps the inner text of stripped elements). An element
# goes from "<name" (a whole word) through the first ">" to the first
# "</name>" after it; without that end tag it stays (bleach strips the tags).
_INVISIBLE_NAMES = "script|style|head|title|template|noscript|iframe|object"
_INVISIBLE_OPEN = re.compile(rf"<({_INVISIBLE_NAMES})\b", re.IGNORECASE)
_INVISIBLE_CLOSE = re.compile(rf"</({_INVISIBLE_NAMES})\s*>", re.IGNORECASE)


def _drop_invisible(html: str) -> str:
    """Remove invisible elements, in one pass (a backtracking pattern was quadratic)."""
    if _INVISIBLE_OPEN.search(html) is None:
        return html
    closings: dict[str, list[tuple[int, int]]] = {}
    for match in _INVISIBLE_CLOSE.finditer(html):
        closings.setdefault(match.group(1).lower(), []).append(match.span())
    seen = dict.fromkeys(closings, 0)  # closings before this index lie behind us
    pieces = []
    copied = 0
    position = 0
    while True:
        match = _INVISIBLE_OPEN.search(html, position)
        if match is None:
            break
        tag_end = html.find(">", match.end())
        if tag_end < 0:
            break  # no later element can be complete either
        name = match.group(1).lower()
        spans = closings.get(name, ())
        index = seen.get(name, 0)
        while index < len(spans) and spans[index][0] <= tag_end:
            index += 1
        if name in seen:
            seen[name] = index
        if index == len(spans):
            position = match.start() + 1
            continue
        pieces.append(html[copied : match.start()])
        copied = position = spans[index][1]
    if not pieces:
        return html
    pieces.append(html[copied:])
    return "".join(pieces)


# ---------------------------------------------------------------------------
# Markup scanner: where html5lib's tokenizer sees tags, comments and text

_TAG, _COMMENT, _DOCTYPE, _BOGUS_END, _IGNORED = range(5)
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NAME_END = re.compile(r"[\t\n\f\r />]")
_SEPARATORS = re.compile(r"[\t\n\f\r /]*")
_ATTRIBUTE_NAME = re.compile(r"[^\t\n\f\r />][^\t\n\f\r />=]*")
_SPACES = re.compile(r"[\t\n\f\r ]*")
_UNQUOTED_VALUE = re.compile(r"[^\t\n\f\r >]*")


class _Token:
    """One piece of markup: a tag, comment, doctype or other construct."""

    __slots__ = ("kind", "start", "end", "name", "closing", "attributes", "complete")

    def __init__(self, kind, start, end, name="", closing=False, attributes=(), complete=True):
        self.kind = kind
        self.start = start
        self.end = end
        self.name = name
        self.closing = closing
        self.attributes = attributes
        self.complete = complete


def _attributes(html: str, position: int) -> tuple[int, list]:
    """Read a tag's attributes from `position` (just after its name), as html5lib does.

    Return (index just after the closing ">" or -1 when the input ends first,
    [(name start, name end, attribute end, value start, value end, quoted)]).
    A missing value has value start -1.
    """
    length = len(html)
    found = []
    while True:
        position = _SEPARATORS.match(html, position).end()
        if position >= length:
            return -1, found
        if html[position] == ">":
            return position + 1, found
        name_start = position
        position = name_end = _ATTRIBUTE_NAME.match(html, position).end()
        position = _SPACES.match(html, position).end()
        if position >= length:
            return -1, found
        if html[position] != "=":
            found.append((name_start, name_end, name_end, -1, -1, False))
            continue
        position = _SPACES.match(html, position + 1).end()
        if position >= length:
            return -1, found
        quote = html[position]
        if quote == '"' or quote == "'":
            close = html.find(quote, position + 1)
            if close < 0:
                return -1, found
            found.append((name_start, name_end, close + 1, position + 1, close, True))
            position = close + 1
        elif quote == ">":
            found.append((name_start, name_end, position, -1, -1, False))
        else:
            end = _UNQUOTED_VALUE.match(html, position).end()
            found.append((name_start, name_end, end, position, end, False))
            position = end


def _comment_end(html: str, start: int) -> int:
    """Return the index after the comment opened at `start` ("<!--"), or -1."""
    body = start + 4
    if html.startswith(">", body):
        return body + 1
    if html.startswith("->", body):
        return body + 2
    dashes = html.find("-->", body)
    bang = html.find("--!>", body)
    if bang >= 0 and (dashes < 0 or bang < dashes):
        return bang + 4
    return dashes + 3 if dashes >= 0 else -1


# What may follow a "<" that is not text: a start or end tag (and the
# character after its name, if any), a comment, a doctype or bogus comment,
# "<?", or "</" not followed by a letter. Any other "<" is text.
_OPENING = re.compile(
    r"<(?:(?P<slash>/)?(?P<name>[A-Za-z][^\t\n\f\r />]*)(?P<after>[\t\n\f\r />])?"
    r"|!(?P<comment>--)?|(?P<question>\?)|/(?P<empty>>)?)"
)


def _markup(html: str):
    """Yield the markup of `html` in order; the text between is what is not yielded.

    Follows html5lib's tokenizer in its data state, the only state bleach's
    configuration ever uses (no element that switches it is allowed).
    A token with ``complete=False`` runs to the end of the input.
    """
    length = len(html)
    search = _OPENING.search
    position = 0
    while True:
        match = search(html, position)
        if match is None:
            return
        start = match.start()
        name = match.group("name")
        if name is not None:
            closing = match.group("slash") is not None
            after = match.group("after")
            if after is None:
                yield _Token(_TAG, start, length, name, closing, complete=False)
                return
            if after == ">":
                end, attributes = match.end(), ()
            else:
                end, attributes = _attributes(html, match.end() - 1)
                if end < 0:
                    yield _Token(_TAG, start, length, name, closing, attributes, complete=False)
                    return
            yield _Token(_TAG, start, end, name, closing, attributes)
            position = end
            continue
        if match.group("comment"):
            end = _comment_end(html, start)
            kind = _COMMENT
        elif match.group("empty"):
            yield _Token(_IGNORED, start, match.end())  # "</>"
            position = match.end()
            continue
        elif match.end() == length and html.endswith("</"):
            return  # "</" at the very end is text
        else:
            if html.endswith("/", 0, match.end()):
                kind = _BOGUS_END
            elif match.group("question") is None and (
                html[start + 2 : start + 9].lower() == "doctype"
            ):
                kind = _DOCTYPE
            else:
                kind = _COMMENT
            end = html.find(">", start + 2)
            if end >= 0:
                end += 1
        if end < 0:
            yield _Token(kind, start, length, complete=False)
            return
        yield _Token(kind, start, end)
        position = end


# ---------------------------------------------------------------------------
# What html5lib does with the open elements (the subset that reaches it)

_VOID = frozenset(
    ("area base br col embed hr img input keygen link meta param source track wbr").split()
)
_SPECIAL = frozenset(
    (
        "address applet area article aside base basefont bgsound blockquote body br "
        "button caption center col colgroup command dd details dir div dl dt embed "
        "fieldset figure footer form frame frameset h1 h2 h3 h4 h5 h6 head header hr html "
        "iframe image img input isindex li link listing marquee menu meta nav noembed "
        "noframes noscript object ol p param plaintext pre script section select style "
        "table tbody td textarea tfoot th thead title tr ul wbr xmp"
    ).split()
)
# Special elements that do not stop the search for an open li, dd or dt.
_SOFT_SPECIAL = frozenset({"address", "div", "p", "li", "dd", "dt"})
_SCOPING = frozenset({"applet", "caption", "html", "marquee", "object", "table", "td", "th"})
_MARKERS = ("td", "th", "caption", "applet", "marquee", "object")
_FORMATTING = frozenset(
    {
        "a",
        "b",
        "big",
        "code",
        "em",
        "font",
        "i",
        "nobr",
        "s",
        "small",
        "strike",
        "strong",
        "tt",
        "u",
    }
)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_LIST_ITEMS = frozenset({"li", "dd", "dt"})
_CLOSES_P = (
    frozenset(
        (
            "address article aside blockquote center details dir div dl fieldset figcaption "
            "figure footer form header hgroup listing main menu nav ol p plaintext pre "
            "section summary table ul"
        ).split()
    )
    | frozenset(_HEADINGS)
    | frozenset(_LIST_ITEMS)
)
# End tags that close the element of that name when it is in scope.
_BLOCK_ENDS = frozenset(
    (
        "address article aside blockquote button center dd details dialog dir div dl dt "
        "fieldset figcaption figure footer header hgroup listing main menu nav ol pre "
        "section summary ul"
    ).split()
)
_TABLE_PARTS = frozenset({"table", "caption", "tbody", "thead", "tfoot", "tr", "td", "th"})
_ROW_GROUPS = frozenset({"tbody", "thead", "tfoot"})
# Where text that is only white space stays in place (other text is moved out).
_TABLE_CONTEXTS = frozenset({"table", "tbody", "thead", "tfoot", "tr"})
# Empty elements before which html5lib reopens formatting elements.
_INLINE_VOID = frozenset({"area", "br", "embed", "img", "input", "keygen", "wbr"})
_HTML_SPACES = "\t\n\f\r "

_DROPPED, _OPEN, _MOVED = 0, 1, 2
# Entries the model looks at when html5lib's adoption agency rearranges the
# stack (html5lib itself looks at the same ones, within its guarded stack).
_ADOPTION_SCAN = 64


class _Elements:
    """A model of html5lib's stack of open elements, to know how deep it is.

    Follows html5lib's rules for the elements the policy lets through:
    implied ends (p, li, dd, dt, headings, table parts), scopes, and what an
    end tag closes. Where html5lib moves a formatting element elsewhere (the
    adoption agency) the entry is marked moved. Formatting elements closed
    by something else than their end tag stay in a list, as in html5lib,
    and are opened again before the next text or inline element. The model
    need not be exact: bleach's own stack is guarded, and the strict pass
    does not depend on it.

    In strict mode every end tag comes from the model: whatever it closes is
    closed explicitly, so that what html5lib sees is balanced, and tables
    are dropped.
    """

    __slots__ = (
        "strict",
        "names",
        "states",
        "where",
        "special",
        "hard",
        "scoping",
        "tables",
        "open",
        "formatting",
        "records",
    )

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.names: list[str] = []
        self.states: list[int] = []
        self.where: dict[str, list[int]] = {}  # name -> indices of entries not moved
        self.special: list[int] = []
        self.hard: list[int] = []  # special elements outside _SOFT_SPECIAL
        self.scoping: list[int] = []
        self.tables: list[int] = []
        self.open = 0  # entries html5lib holds open
        # html5lib's list of active formatting elements: [name, attributes,
        # stack index or -1 when closed], None for a marker (cells, captions).
        self.formatting: list[list | None] = []
        self.records: list[list | None] = []  # each entry's record in that list

    def last(self, name: str) -> int:
        positions = self.where.get(name)
        return positions[-1] if positions else -1

    def push(self, name: str, state: int = _OPEN) -> None:
        index = len(self.names)
        self.names.append(name)
        self.states.append(state)
        self.records.append(None)
        positions = self.where.get(name)
        if positions is None:
            self.where[name] = [index]
        else:
            positions.append(index)
        if name in _SPECIAL:
            self.special.append(index)
            if name not in _SOFT_SPECIAL:
                self.hard.append(index)
        if name in _SCOPING:
            self.scoping.append(index)
        if name in _TABLE_PARTS:
            self.tables.append(index)
        if state == _OPEN:
            self.open += 1

    def pop_to(self, index: int) -> str:
        """Close the entry at `index` and all above it; in strict mode return their end tags."""
        names, states, records = self.names, self.states, self.records
        special = self.special
        closed = []
        while len(names) > index:
            name = names.pop()
            state = states.pop()
            record = records.pop()
            position = len(names)
            if state != _MOVED:
                self.where[name].pop()
            if record is not None:
                record[2] = -1  # still active: html5lib will open it again
            if special and special[-1] == position:
                special.pop()
                for stack in (self.hard, self.scoping, self.tables):
                    if stack and stack[-1] == position:
                        stack.pop()
                if state == _OPEN and name in _MARKERS and not self.strict:
                    self.clear_formatting()
            if state == _OPEN:
                self.open -= 1
                if self.strict:
                    closed.append(f"</{name}>")
        return "".join(closed)

    # -- active formatting elements (lenient mode only) -------------------

    def add_formatting(self, name: str, attributes: str) -> None:
        """Record the formatting element just pushed (html5lib keeps three equal ones)."""
        index = len(self.names) - 1
        formatting = self.formatting
        equal = []
        for position in range(len(formatting) - 1, max(-1, len(formatting) - _STACK_LIMIT), -1):
            record = formatting[position]
            if record is None:
                break
            if record[0] == name and record[1] == attributes:
                equal.append(position)
        if len(equal) >= 3:
            self.forget(formatting[equal[-1]])
        record = [name, attributes, index]
        formatting.append(record)
        self.records[index] = record
        if len(formatting) > 4 * _STACK_LIMIT:  # html5lib's guard trips long before
            for old in formatting[: 2 * _STACK_LIMIT]:
                if old is not None and old[2] >= 0:
                    self.records[old[2]] = None
            del formatting[: 2 * _STACK_LIMIT]

    def forget(self, record: list) -> None:
        """Take `record` off the list of active formatting elements."""
        formatting = self.formatting
        for position in range(len(formatting) - 1, -1, -1):
            if formatting[position] is record:
                del formatting[position]
                break
        if record[2] >= 0:
            self.records[record[2]] = None

    def forget_closed(self, name: str) -> bool:
        """For an end tag whose element was closed already: take it off the list.

        Return whether there was one (html5lib then ignores the end tag).
        """
        formatting = self.formatting
        for position in range(len(formatting) - 1, max(-1, len(formatting) - 17), -1):
            record = formatting[position]
            if record is None:
                return False
            if record[0] == name:
                if record[2] >= 0:
                    return False
                del formatting[position]
                return True
        return False

    def clear_formatting(self) -> None:
        """Forget the formatting elements opened since the last marker, and it."""
        formatting = self.formatting
        while formatting:
            record = formatting.pop()
            if record is None:
                return
            if record[2] >= 0:
                self.records[record[2]] = None

    def reconstruct(self) -> None:
        """Open again the active formatting elements that were closed, as html5lib does."""
        formatting = self.formatting
        if self.strict or not formatting or formatting[-1] is None or formatting[-1][2] >= 0:
            return
        first = len(formatting) - 1
        while first > 0 and formatting[first - 1] is not None and formatting[first - 1][2] < 0:
            first -= 1
        for record in formatting[first:]:
            self.push(record[0])
            record[2] = len(self.names) - 1
            self.records[record[2]] = record
            if self.open > _STACK_LIMIT:
                raise _TooComplex  # html5lib's guard would trip: go strict at once

    def text(self, content: str) -> None:
        """Account for text: html5lib reopens formatting elements first."""
        if self.formatting and (not self.in_table_body() or content.strip(_HTML_SPACES)):
            self.reconstruct()

    def in_table_body(self) -> bool:
        """Whether html5lib's current node is a table, table section or row."""
        for position in range(len(self.names) - 1, max(-1, len(self.names) - 8), -1):
            if self.states[position] == _OPEN:
                return self.names[position] in _TABLE_CONTEXTS
        return False

    def barrier(self, *names: str) -> int:
        """Return the index of the nearest element that ends a scope (with `names`)."""
        found = self.scoping[-1] if self.scoping else -1
        for name in names:
            found = max(found, self.last(name))
        return found

    def in_scope(self, name: str, *barriers: str) -> int:
        index = self.last(name)
        return index if index > self.barrier(*barriers) else -1

    def close_p(self) -> str:
        index = self.in_scope("p", "button")
        return self.pop_to(index) if index >= 0 else ""

    # -- start tags -----------------------------------------------------

    def start(self, name: str, attributes: str = "") -> tuple[bool, str]:
        """Return (keep the tag, end tags to write before it)."""
        if name in _VOID:
            if name in _INLINE_VOID:
                self.reconstruct()
            return True, (self.close_p() if name == "hr" else "")
        if self.open >= MAX_DEPTH:
            self.push(name, _DROPPED)
            return False, ""
        if name in _TABLE_PARTS:
            if self.strict:
                return False, ""
            self.start_table_part(name)
            return True, ""
        closes = ""
        if name in _LIST_ITEMS:
            if name == "li":
                index = self.last("li")
                stop = max(self.hard[-1] if self.hard else -1, self.last("dd"), self.last("dt"))
            else:
                index = max(self.last("dd"), self.last("dt"))
                stop = max(self.hard[-1] if self.hard else -1, self.last("li"))
            if index > stop:
                closes += self.pop_to(index)
        if name in _CLOSES_P:
            closes += self.close_p()
        if name in _HEADINGS and self.states and self.states[-1] == _OPEN:
            if self.names[-1] in _HEADINGS:
                closes += self.pop_to(len(self.names) - 1)
        if name == "a":
            index = self.last("a")
            if index > self.marker():
                closes += self.close_formatting(index)
                if not self.strict and index < len(self.names) and self.states[index] == _OPEN:
                    self.remove(index)  # html5lib takes the open link out in any case
        if name not in _SPECIAL and name not in _CLOSES_P:
            self.reconstruct()
        self.push(name)
        if name in _FORMATTING and not self.strict:
            self.add_formatting(name, attributes)
        return True, closes

    def start_table_part(self, name: str) -> None:
        while True:
            context = self.tables[-1] if self.tables else -1
            kind = self.names[context] if context >= 0 else ""
            if not kind:
                if name == "table":  # outside a table, the other parts are ignored
                    self.close_p()
                    self.push(name)
                return
            if kind in ("td", "th", "caption"):
                if name == "table":  # a table inside a cell
                    self.close_p()
                    self.push(name)
                    return
                self.pop_to(context)  # the cell or caption ends first
                continue
            if name == "table":
                # A table directly in a table ends the open one; html5lib
                # drops the new start tag when it parses a fragment.
                self.pop_to(self.last("table"))
                return
            if kind == "tr":
                if name in ("td", "th"):
                    self.pop_to(context + 1)
                    self.push_cell(name)
                    return
                self.pop_to(context)
                continue
            if kind in _ROW_GROUPS:
                if name in ("tr", "td", "th"):
                    self.pop_to(context + 1)
                    if name != "tr":
                        self.push("tr")
                    self.push_cell(name)
                    return
                self.pop_to(context)
                continue
            self.pop_to(context + 1)  # directly in the table
            if name in ("tr", "td", "th"):
                self.push("tbody")
                if name != "tr":
                    self.push("tr")
            self.push_cell(name)
            return

    def push_cell(self, name: str) -> None:
        """Push a table part; a cell or caption also starts a new formatting scope."""
        self.push(name)
        if name in _MARKERS and not self.strict:
            self.formatting.append(None)

    # -- end tags -------------------------------------------------------

    def marker(self) -> int:
        return max(self.last(name) for name in _MARKERS)

    def remove(self, index: int) -> None:
        """Take the entry at `index` out of the stack (it stays as a placeholder)."""
        record = self.records[index]
        if record is not None:
            self.forget(record)
        positions = self.where[self.names[index]]
        del positions[bisect_left(positions, index)]
        if self.states[index] == _OPEN:
            self.open -= 1
        self.states[index] = _MOVED

    def close_formatting(self, index: int) -> str:
        """End the formatting element at `index` as html5lib's adoption agency would."""
        if index <= self.barrier():
            return ""
        record = self.records[index]
        if record is not None:
            self.forget(record)
        first_block = bisect_right(self.special, index)
        if self.strict or first_block == len(self.special):
            return self.pop_to(index)
        # Blocks inside it: html5lib moves the element (a copy of it) below
        # each block in turn, taking the other inline elements in between
        # out of the stack, and finally closes it with what lies above the
        # last block (it gives up after eight blocks).
        blocks = len(self.special) - first_block
        last_block = self.special[-1] if blocks <= 8 else self.special[first_block + 7]
        self.remove(index)
        for position in range(index + 1, min(last_block, index + 1 + _ADOPTION_SCAN)):
            name = self.names[position]
            if self.states[position] == _OPEN and name not in _FORMATTING and name not in _SPECIAL:
                self.remove(position)
        if blocks <= 8:
            self.pop_to(last_block + 1)
        return ""

    def end(self, name: str) -> tuple[bool, str]:
        """Return (keep the tag, end tags to write instead of it)."""
        if name in _VOID or (self.strict and name in _TABLE_PARTS):
            return not self.strict, ""
        if name in _FORMATTING:
            index = self.last(name)
            if index > self.marker():
                if self.states[index] == _OPEN:
                    return not self.strict, self.close_formatting(index)
                return False, self.pop_to(index)
            if self.forget_closed(name):
                return not self.strict, ""
        index = self.target(name)
        if index < 0:
            return not self.strict, ""
        dropped = self.states[index] == _DROPPED
        closes = self.pop_to(index)
        return not (self.strict or dropped), closes

    def target(self, name: str) -> int:
        """Return the index of the entry an end tag closes, or -1 when html5lib ignores it."""
        if name == "p":
            return self.in_scope("p", "button")
        if name == "li":
            return self.in_scope("li", "ol", "ul")
        if name in _BLOCK_ENDS:
            return self.in_scope(name)
        if name in _HEADINGS:
            index = max(self.last(heading) for heading in _HEADINGS)
            return index if index > self.barrier() else -1
        if name in _TABLE_PARTS:
            table = self.last("table")
            if name == "table":
                return table
            index = self.last(name)
            return index if index > table else -1
        index = self.last(name)
        if self.special and self.special[-1] > index:
            return -1  # a special element is nearer: html5lib ignores the end tag
        return index


# ---------------------------------------------------------------------------
# Reshaping for bleach

# Bounds on what html5lib builds one character or one piece at a time.
_MAX_NAME = 64  # tag names (allowed ones are short)
_MAX_ATTRIBUTES = 32  # attributes of one tag
_MAX_ATTRIBUTE_NAME = 128
_MAX_VALUE_PIECES = 64  # "&" (and the like) in one attribute value
_MAX_BRACKETS = 64  # nesting material in one value (the CSS parser recurses)
_MAX_DIGITS = 32  # digits of a numeric character reference
_MAX_COMMENT_PIECES = 64  # "-" in a comment
_MAX_DOCTYPE = 256
_MAX_OPEN_TAIL = 1024  # an unterminated tag at the end of the input
# Character tokens html5lib appends to one text node (each append copies it):
# since the last element boundary, and since the last comment.
_MAX_NODE_PIECES = 64
_MAX_UNBROKEN_PIECES = 1024
_BREAK = "<!---->"  # an empty comment: a node boundary that bleach strips

_LONG_REFERENCE_PATTERN = (
    rf"&#(?:[xX][0-9a-fA-F]{{{_MAX_DIGITS + 1},}}|[0-9]{{{_MAX_DIGITS + 1},}})"
)
_LONG_REFERENCE = re.compile(_LONG_REFERENCE_PATTERN)
# What ends a character token in html5lib's data state (bleach gives every
# "&" a token of its own), and numeric references too long for bleach.
_PIECE = re.compile(_LONG_REFERENCE_PATTERN + r"|[&<\x00]")
_ALLOWED_EVERYWHERE = frozenset(ALLOWED_ATTRIBUTES.get("*", ()))
_ALLOWED_BY_TAG = {
    tag: frozenset(names) | _ALLOWED_EVERYWHERE for tag, names in ALLOWED_ATTRIBUTES.items()
}


def _value_is_cheap(html: str, attribute: tuple) -> bool:
    name_start, name_end, _end, value_start, value_end, quoted = attribute
    if name_end - name_start > _MAX_ATTRIBUTE_NAME:
        return False
    if value_end - value_start <= _MAX_DIGITS:
        return True
    value = html[value_start:value_end]
    pieces = value.count("&") + value.count("\x00")
    if not quoted:
        pieces += sum(value.count(char) for char in "\"'=<`")
    if pieces > _MAX_VALUE_PIECES:
        return False
    if value.count("(") + value.count("[") + value.count("{") > _MAX_BRACKETS:
        return False
    return "&#" not in value or _LONG_REFERENCE.search(value) is None


def _tag_is_cheap(html: str, token: _Token) -> bool:
    if len(token.name) > _MAX_NAME or len(token.attributes) > _MAX_ATTRIBUTES:
        return False
    return all(_value_is_cheap(html, attribute) for attribute in token.attributes)


def _rebuilt_tag(html: str, token: _Token, name: str, allowed: bool) -> str:
    """Return the tag with only what bleach would keep of it (for tags too costly to parse)."""
    if not allowed:
        # bleach drops the whole tag; its name decides between "" and a newline.
        return f"<{'/' if token.closing else ''}{token.name[:_MAX_NAME]}>"
    if token.closing:
        return f"</{token.name}>"
    keep = _ALLOWED_BY_TAG.get(name, _ALLOWED_EVERYWHERE)
    seen = set()
    parts = [f"<{token.name}"]
    for attribute in token.attributes:
        attribute_name = html[attribute[0] : attribute[1]].translate(_ASCII_LOWER)
        if attribute_name in seen:
            continue  # html5lib keeps the first of equal names
        seen.add(attribute_name)
        if attribute_name in keep and _value_is_cheap(html, attribute):
            parts.append(" " + html[attribute[0] : attribute[2]])
    parts.append(">")
    return "".join(parts)


def _html5lib_name(raw: str) -> str:
    name = raw.lower() if raw.isascii() else raw.translate(_ASCII_LOWER)
    return name.replace("\x00", "\ufffd") if "\x00" in name else name


def _prepare(html: str, strict: bool) -> str:
    """Return `html` reshaped so that bleach handles it in linear time.

    Returns `html` itself when nothing needs to change (ordinary HTML).
    """
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in order
    elements = _Elements(strict)
    node_pieces = 0  # character tokens in the current text node
    unbroken = 0  # ... since the last comment
    previous = 0

    def text(start: int, end: int) -> None:
        nonlocal node_pieces, unbroken
        if elements.formatting:
            elements.text(html[start:end])
        for match in _PIECE.finditer(html, start, end):
            if match.end() - match.start() > 1:
                # bleach reads a numeric reference one digit at a time, each
                # step copying the rest: cut it (it stays visible text).
                cut = match.start() + 2 + (html[match.start() + 2] in "xX") + _MAX_DIGITS
                edits.append((cut, cut, _BREAK))
                node_pieces = unbroken = 0
                continue
            node_pieces += 1
            unbroken += 1
            if node_pieces > _MAX_NODE_PIECES or unbroken > _MAX_UNBROKEN_PIECES:
                edits.append((match.start(), match.start(), _BREAK))
                node_pieces = unbroken = 1

    for token in _markup(html):
        if token.start > previous:
            text(previous, token.start)
        previous = token.end
        kind = token.kind
        if kind == _TAG:
            if not token.complete:
                if token.end - token.start > _MAX_OPEN_TAIL:
                    # html5lib would read it one character at a time and give
                    # it back as text: make it text at once.
                    tail = html[token.start :].replace("<", "&lt;")
                    edits.append((token.start, token.end, _broken_text(tail)))
                continue
            name = _html5lib_name(token.name)
            allowed = name in ALLOWED_TAGS or (not name.isascii() and name.lower() in ALLOWED_TAGS)
            replacement = None
            if (token.attributes or len(token.name) > _MAX_NAME) and not _tag_is_cheap(html, token):
                replacement = _rebuilt_tag(html, token, name, allowed)
            if not allowed:
                # bleach turns it into (empty or newline) text in the same node
                if elements.formatting:
                    elements.text("")
                node_pieces += 1
                unbroken += 1
                if node_pieces > _MAX_NODE_PIECES or unbroken > _MAX_UNBROKEN_PIECES:
                    edits.append((token.start, token.start, _BREAK))
                    node_pieces = unbroken = 1
                if replacement is not None:
                    edits.append((token.start, token.end, replacement))
                continue
            if token.closing:
                keep, closes = elements.end(name)
            elif name in _FORMATTING:
                # html5lib tells equal formatting elements by their attributes
                attributes = html[token.start + len(token.name) + 1 : token.end - 1]
                keep, closes = elements.start(name, attributes.strip(_HTML_SPACES + "/"))
            else:
                keep, closes = elements.start(name)
            if keep:
                node_pieces = 0
                if replacement is not None:
                    edits.append((token.start, token.end, closes + replacement))
                elif closes:
                    edits.append((token.start, token.start, closes))
            else:
                edits.append((token.start, token.end, closes))
        elif kind == _COMMENT:
            node_pieces = unbroken = 0
            body = html[token.start : token.end]
            if body.count("-") + body.count("\x00") > _MAX_COMMENT_PIECES:
                edits.append((token.start, token.end, _BREAK if token.complete else ""))
        elif kind == _DOCTYPE:
            if token.end - token.start > _MAX_DOCTYPE:
                edits.append((token.start, token.end, ""))  # ignored by html5lib anyway
        elif kind == _BOGUS_END:
            if elements.formatting:
                elements.text("x")  # bleach gives it back as text
            node_pieces += 1
            unbroken += 1
    if previous < len(html):
        text(previous, len(html))
    if not edits:
        return html
    pieces = []
    copied = 0
    for start, end, replacement in edits:
        pieces.append(html[copied:start])
        pieces.append(replacement)
        copied = end
    pieces.append(html[copied:])
    return "".join(pieces)


def _broken_text(text: str) -> str:
    """Return markup-free `text` with a node boundary before it and every few dozen pieces."""
    pieces = [_BREAK]
    copied = 0
    count = 0
    for match in _PIECE.finditer(text):
        if match.end() - match.start() > 1:
            cut = match.start() + 2 + (text[match.start() + 2] in "xX") + _MAX_DIGITS
            pieces += (text[copied:cut], _BREAK)
            copied = cut
            count = 0
            continue
        count += 1
        if count > _MAX_NODE_PIECES:
            pieces += (text[copied : match.start()], _BREAK)
            copied = match.start()
            count = 1
    pieces.append(text[copied:])
    return "".join(pieces)


def _text_only(html: str) -> str:
    """Return the text of `html` without any markup (blocks become line breaks)."""
    pieces = []
    previous = 0
    for token in _markup(html):
        pieces.append(html[previous : token.start].replace("<", "&lt;"))
        previous = token.end
        if token.kind == _TAG and not token.complete:
            pieces.append(html[token.start :].replace("<", "&lt;"))
        elif token.kind == _TAG and _html5lib_name(token.name) in _SPECIAL:
            pieces.append("\n")
    pieces.append(html[previous:].replace("<", "&lt;"))
    return "".join(pieces)


# ---------------------------------------------------------------------------
# Running bleach with guards

# html5lib's stack may run a little deeper than the model: formatting
# elements it reopens, implied table rows. Beyond these bounds the input is
# hostile in a way the model does not follow, and the next pass takes over.
_STACK_LIMIT = MAX_DEPTH + 50
_STRICT_STACK_LIMIT = MAX_DEPTH + 10
_LINKIFY_STACK_LIMIT = 2 * _STACK_LIMIT
# Content misplaced in a table is moved before it, each time by searching the
# table's parent among its children.
_MAX_TABLE_REPAIRS = 128


class _TooComplex(Exception):
    """html5lib went beyond a guard's bound."""


class _BoundedStack(list):
    """html5lib's stack of open elements, refusing to grow beyond a bound."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def append(self, item) -> None:
        if len(self) >= self.limit:
            raise _TooComplex
        super().append(item)

    def insert(self, index, item) -> None:
        if len(self) >= self.limit:
            raise _TooComplex
        super().insert(index, item)


def _guard(tree, stack_limit: int) -> None:
    """Bound the open elements and the table repairs of an html5lib tree builder."""
    reset = tree.reset
    misnested = tree.getTableMisnestedNodePosition
    repairs = 0

    def bounded_reset() -> None:
        nonlocal repairs
        reset()
        tree.openElements = _BoundedStack(stack_limit)
        repairs = 0

    def counted_misnested():
        nonlocal repairs
        repairs += 1
        if repairs > _MAX_TABLE_REPAIRS:
            raise _TooComplex
        return misnested()

    tree.reset = bounded_reset
    tree.getTableMisnestedNodePosition = counted_misnested


class _LinearWalker(html5lib_shim.getTreeWalker("etree")):
    """html5lib's etree walker, remembering positions on its way down.

    The original finds each element among its parent's children when it
    climbs back up, which is quadratic for a wide tree.
    """

    def __init__(self, tree) -> None:
        super().__init__(tree)
        self._positions: list = []  # position of each element of `parents` in its parent

    def getFirstChild(self, node):
        if isinstance(node, tuple):
            element, key, parents, flag = node
        else:
            element, key, parents, flag = node, None, [], None
            self._positions = []
        if flag in ("text", "tail"):
            return None
        if element.text:
            return element, key, parents, "text"
        if len(element):
            parents.append(element)
            self._positions.append(key)
            return element[0], 0, parents, None
        return None

    def getNextSibling(self, node):
        if not isinstance(node, tuple):
            return None
        element, key, parents, flag = node
        if flag == "text":
            if len(element):
                parents.append(element)
                self._positions.append(key)
                return element[0], 0, parents, None
            return None
        if element.tail and flag != "tail":
            return element, key, parents, "tail"
        if key < len(parents[-1]) - 1:
            return parents[-1][key + 1], key + 1, parents, None
        return None

    def getParentNode(self, node):
        if not isinstance(node, tuple):
            return None
        element, key, parents, flag = node
        if flag == "text":
            return (element, key, parents, None) if parents else element
        parent = parents.pop()
        position = self._positions.pop()
        return (parent, position, parents, None) if parents else parent


def _run(worker, method, text: str, stack_limit: int) -> str | None:
    """Run a bleach Cleaner or Linker method under the guards; None when one trips."""
    worker.walker = _LinearWalker
    _guard(worker.parser.tree, stack_limit)
    try:
        return method(text)
    except (_TooComplex, RecursionError):
        return None


def _sanitise(text: str, stack_limit: int) -> str | None:
    cleaner = Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        css_sanitizer=_CSS,
        strip=True,
        strip_comments=True,
    )
    return _run(cleaner, cleaner.clean, text, stack_limit)


# ---------------------------------------------------------------------------
# Linkify

# linkify's URL pattern is tried from every word after a hyphen and every
# opening parenthesis, each time scanning on to the end of the word chain;
# its clean-up slices the match once per trailing bracket, comma or dot. Text
# is cut (by empty comments, removed again) where such runs grow long: no
# real address has that many hyphens in one dotted name, or that many
# brackets, commas or dots in a row.
_MAX_HYPHENS = 16
_MAX_RUN = 16
_CHAIN = re.compile(rf"[\w.-]{{{2 * _MAX_HYPHENS + 2},}}")
_HYPHEN_WORD = re.compile(r"-(?=\w)")
_RUN = re.compile(rf"[(),.]{{{_MAX_RUN + 1},}}")


def _linkify_cuts(html: str, start: int, end: int, cuts: list[int], pieces: int) -> int:
    """Add to `cuts` where the text html[start:end] must be cut; return the pieces left open."""
    chunk = start
    position = html.find("&", start, end)
    while position >= 0:
        pieces += 1
        if pieces > _MAX_NODE_PIECES:
            # Cut at the last space before it: no address spans a space.
            space = max(html.rfind(" ", chunk, position), html.rfind("\n", chunk, position))
            chunk = space if space > chunk else position
            cuts.append(chunk)
            pieces = html.count("&", chunk, position + 1)
        position = html.find("&", position + 1, end)
    for match in _CHAIN.finditer(html, start, end):
        hyphens = [word.end() for word in _HYPHEN_WORD.finditer(html, *match.span())]
        cuts.extend(hyphens[_MAX_HYPHENS::_MAX_HYPHENS])
    for match in _RUN.finditer(html, start, end):
        cuts.extend(range(match.start() + _MAX_RUN, match.end(), _MAX_RUN))
    return pieces


def _split_for_linkify(html: str) -> str:
    cuts: list[int] = []
    pieces = 0
    previous = 0
    for token in _markup(html):
        if token.start > previous:
            pieces = _linkify_cuts(html, previous, token.start, cuts, pieces)
        previous = token.end
        if token.kind in (_TAG, _COMMENT):
            pieces = 0
    if previous < len(html):
        _linkify_cuts(html, previous, len(html), cuts, pieces)
    if not cuts:
        return html
    out = []
    copied = 0
    for cut in sorted(set(cuts)):
        out += (html[copied:cut], _BREAK)
        copied = cut
    out.append(html[copied:])
    return "".join(out)


def _linkify(cleaned: str) -> str:
    prepared = _split_for_linkify(cleaned)
    linker = Linker(callbacks=[_link_attrs], skip_tags=["pre", "code"], parse_email=False)
    linked = _run(linker, linker.linkify, prepared, _LINKIFY_STACK_LIMIT)
    if linked is None:
        return cleaned  # sanitised already; only the links are missing
    return linked if prepared is cleaned else linked.replace(_BREAK, "")
