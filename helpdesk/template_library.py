"""Filters and tags every template has without {% load %} (TEMPLATES' "builtins")."""

from django import template

from helpdesk.sizes import format_size
from helpdesk.uploads import browser_rules

register = template.Library()


@register.filter
def filesize(value) -> str:
    """A size in bytes as people read it in the page's language: "10 МБ", "2,5 MB"."""
    return format_size(value)


@register.simple_tag
def upload_rules() -> dict:
    """The upload limits the server enforces, for the browser's check before sending."""
    return browser_rules()
