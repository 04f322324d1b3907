"""The rows of a queue's table, drawn in Python.

A queue page has 30 rows and each row some twenty values; drawn through a
template (an include per row and per tag list, a date filter per date, a
lookup per value) they cost ~5 ms of CPU per page, a sixth of the page. Drawn
here, in one pass over values worked out once per page, they cost ~0.5 ms.
docs/console.md ("Why the queue is fast") has the figures.

The markup is the one the template drew, character for character (the
console's script and style find the rows by it): the same function draws the
page's rows and the single row of a live update (console.views.row).
"""

import html
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from tickets.models import Priority, Status

DATE_FORMAT = "%d.%m %H:%M"  # the template's date:"d.m H:i"


def escape(value) -> str:
    """What django.utils.html.escape gives, without its lazy-string wrapper (~1 µs a call)."""
    return html.escape(str(value))


def row_words() -> dict:
    """What every row shares, worked out once per page (translated, escaped)."""
    return {
        "ticket_prefix": escape(
            reverse("console:ticket", args=["00-000000"]).replace("00-000000/", "")
        ),
        "statuses": {value: escape(label) for value, label in Status.choices},
        "priorities": {value: escape(label) for value, label in Priority.choices},
        "incident": escape(_("mass incident")),
        "queue": escape(_("queue")),
        "breached": escape(_("breached")),
        # Shown before the dates only where the list is drawn as cards (narrow screens).
        "due": escape(_("due")),
        "updated": escape(_("updated")),
        "assignee": escape(_("assignee")),
        "zone": timezone.get_current_timezone(),
    }


def _when(value, zone) -> str:
    return value.astimezone(zone).strftime(DATE_FORMAT)


def _tags(ticket) -> str:
    """The ticket's tags as links that filter the list by them (prefetched, never a query)."""
    names = [tag.name for tag in ticket.tags.all()]
    if not names:
        return "\n"
    links = "".join(
        f'<a class="tag-chip" href="?tag={escape(quote(name, safe="/"))}">{escape(name)}</a>'
        for name in names
    )
    return f' <span class="tag-chips">{links}</span>\n'


def row_html(t, words: dict, live: bool = False) -> str:
    """One <tr> of the table for ticket `t` (with ROW_RELATED and row_prefetch() read)."""
    reference = escape(t.reference)
    url = f"{words['ticket_prefix']}{reference}/"
    subject = escape(t.subject)
    incident = (
        f' <span class="badge prio-high" title="{words["incident"]}">⚑</span>'
        if t.is_incident
        else ""
    )
    who = escape(t.requester_display)
    if t.institution_id:
        who += f" · {escape(t.institution.code)} {escape(t.institution.name)}"
    competence = escape(t.competence.name) if t.competence_id else '<span class="muted">—</span>'
    assignee = (
        escape(str(t.assignee)) if t.assignee_id else f'<span class="muted">{words["queue"]}</span>'
    )
    status = escape(t.status)
    priority = escape(t.priority)
    due = _when(t.resolution_due, words["zone"]) if t.resolution_due else "—"
    breached_class, breached = "", ""
    if t.sla_breached:
        breached_class, breached = " breached", f" <span>{words['breached']}</span>"
    new = ' class="live-new"' if live else ""
    return (
        f'<tr data-id="{t.pk}" data-url="{url}"{new}>\n'
        f'  <td class="c-check"><input type="checkbox" name="ids" value="{t.pk}" '
        f'form="bulk-form" aria-label="{reference}"></td>\n'
        f'  <td class="c-ref"><a href="{url}" class="ref">{reference}</a>{incident}</td>\n'
        f'  <td class="c-subject" title="{subject}"><span class="subject">{subject}</span>'
        f'{_tags(t)}<span class="who small">{who}</span></td>\n'
        f'  <td class="c-comp">{competence}</td>\n'
        f'  <td class="c-status"><span class="badge status-{status}">'
        f"{words['statuses'].get(t.status, status)}</span></td>\n"
        f'  <td class="c-prio"><span class="badge prio-{priority}">'
        f"{words['priorities'].get(t.priority, priority)}</span></td>\n"
        f'  <td class="c-assignee"><span class="cell-label">{words["assignee"]} </span>'
        f"{assignee}</td>\n"
        f'  <td class="c-due due{breached_class}"><span class="cell-label">{words["due"]} </span>'
        f"{due}{breached}</td>\n"
        f'  <td class="c-updated"><span class="cell-label">{words["updated"]} </span>'
        f"{_when(t.updated_at, words['zone'])}</td>\n"
        "</tr>\n"
    )


def rows_html(rows, words: dict | None = None) -> SafeString:
    """The table body's rows, in one string."""
    words = words or row_words()
    return mark_safe("".join(row_html(t, words) for t in rows))
