"""Template helpers of the console."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def ref(reference) -> str:
    """Return a request's reference marked so that it never breaks at its hyphen."""
    return format_html('<span class="ref">{}</span>', reference)
