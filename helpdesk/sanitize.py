"""The one HTML policy: everything shown as HTML from mail or Markdown passes here."""

import re

import bleach
from bleach.css_sanitizer import CSSSanitizer

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


def _link_attrs(attrs, new=False):
    href_key = (None, "href")
    href = attrs.get(href_key, "")
    if href.startswith(("http://", "https://")):
        attrs[(None, "rel")] = "nofollow noopener noreferrer"
        attrs[(None, "target")] = "_blank"
    return attrs


# Elements whose content is never readable text: drop them whole, not only
# their tags (bleach keeps the inner text of stripped elements).
_INVISIBLE = re.compile(
    r"<(script|style|head|title|template|noscript|iframe|object)\b[^>]*>.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)


def clean_html(html: str) -> str:
    """Return `html` reduced to a safe subset: no script, no handlers, no remote tricks."""
    if not html:
        return ""
    html = _INVISIBLE.sub("", html)
    cleaned = bleach.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        protocols=ALLOWED_PROTOCOLS,
        css_sanitizer=_CSS,
        strip=True,
        strip_comments=True,
    )
    return bleach.linkify(
        cleaned, callbacks=[_link_attrs], skip_tags=["pre", "code"], parse_email=False
    )
