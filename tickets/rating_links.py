"""Signed links that let a requester rate a resolved request without logging in.

The resolution mail carries a link with a token signed by django.core.signing:
it names the ticket and the address the mail went to, and expires after
HELPDESK_RATING_LINK_DAYS (30 by default). Holding it proves one received
that mail; tickets.actions.rate_from_link checks the address is still the
requester's. Nothing about the ticket can be read from the link itself
beyond its id (the signature covers it; the page shows only the reference).
"""

import datetime

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError

SALT = "tickets.rating-link"
MAX_TOKEN_CHARS = 400


def max_age() -> datetime.timedelta:
    return datetime.timedelta(days=getattr(settings, "HELPDESK_RATING_LINK_DAYS", 30))


def make_token(ticket_id: int, address: str) -> str:
    """Return the signed token of a rating link for `address` about ticket `ticket_id`."""
    return signing.dumps({"t": int(ticket_id), "a": (address or "").lower()}, salt=SALT)


def read_token(token: str) -> tuple[int, str]:
    """Return (ticket id, address) of a valid token; DomainError if forged, broken or expired."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise DomainError(_("This rating link is not valid."))
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise DomainError(_("This rating link has expired.")) from None
    except signing.BadSignature:
        raise DomainError(_("This rating link is not valid.")) from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int):
        raise DomainError(_("This rating link is not valid."))
    return data["t"], str(data.get("a") or "")
