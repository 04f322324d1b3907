"""The people on a request, for the console's ticket page (console/ticket/_people.html)."""

from django import template

from tickets import events as history
from tickets.models import Watcher

register = template.Library()


@register.simple_tag
def people_on(ticket, events):
    """Return {"watchers": [...], "copied": [addresses]} for `ticket`.

    `copied` lists the addresses an incoming mail was copied to (from the
    history lines already on the page) that are not on the request yet, to
    add in one click.
    """
    watchers = list(
        Watcher.objects.filter(ticket=ticket).select_related("user", "added_by").order_by("id")
    )
    on_request = {w.address.lower() for w in watchers}
    on_request.add((ticket.requester.email if ticket.requester_id else "").lower())
    on_request.add((ticket.requester_email or "").lower())
    copied = []
    for event, _line in events:  # (event, its line in the reader's language)
        for address in history.copied_addresses(event):
            if address.lower() not in on_request and address not in copied:
                copied.append(address)
    return {"watchers": watchers, "copied": copied}
