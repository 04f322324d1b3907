"""File sizes as people read them, in their language: "10 МБ", "2,5 MB", "300 KB".

One writer for every page, message and script: the templates' `filesize` filter
(helpdesk/template_library.py), the upload checks' reasons (helpdesk/uploads.py)
and, through `size_format()`, the browser's own check of chosen files
(static/js/uploads.js), which repeats `format_size` with the same units.
"""

from django.utils.formats import get_format, number_format
from django.utils.translation import gettext as _

NBSP = "\u00a0"
KIB = 1024
MIB = 1024 * 1024
GIB = 1024 * 1024 * 1024


def _units() -> dict[str, str]:
    return {
        # Translators: a file size in bytes; keep %(size)s.
        "B": _("%(size)s B"),
        # Translators: a file size in kilobytes; keep %(size)s.
        "KB": _("%(size)s KB"),
        # Translators: a file size in megabytes; keep %(size)s.
        "MB": _("%(size)s MB"),
        # Translators: a file size in gigabytes; keep %(size)s.
        "GB": _("%(size)s GB"),
    }


def _split(size: int) -> tuple[float, str]:
    if size >= GIB:
        return size / GIB, "GB"
    if size >= MIB:
        return size / MIB, "MB"
    if size >= KIB:
        return size / KIB, "KB"
    return float(size), "B"


def format_size(size) -> str:
    """Return `size` bytes in the active language: one decimal below 10, none when whole.

    The number and its unit are joined by a no-break space, so they never part
    at the end of a line.
    """
    try:
        size = max(int(size), 0)
    except (TypeError, ValueError):
        size = 0
    value, unit = _split(size)
    decimals = 1 if value < 10 and unit != "B" else 0
    rounded = round(value, decimals)
    if rounded == int(rounded):
        decimals = 0
    number = number_format(rounded, decimal_pos=decimals, use_l10n=True, force_grouping=False)
    return (_units()[unit] % {"size": number}).replace(" ", NBSP)


def size_format() -> dict:
    """What the browser needs to write sizes exactly as `format_size` does."""
    return {
        "units": {key: text.replace(" ", NBSP) for key, text in _units().items()},
        "decimal": get_format("DECIMAL_SEPARATOR"),
    }
