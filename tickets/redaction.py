"""Personal numbers (ЕГН) are masked on the way in, before anything is stored.

The filing and conversation actions pass every text a person wrote (subject,
text, HTML, quoted text, file names) through one Redactor, so everything
downstream (portal, console, mails sent, search index, API, exports) only
ever reads the masked text. The count goes back to the door (the portal
tells the person why their number was hidden); the originals are kept only
when settings.HELPDESK_EGN_KEEP_ORIGINAL says so, in RedactedOriginal.
"""

from django.conf import settings

from helpdesk import egn
from tickets.models import RedactedOriginal


def keep_originals() -> bool:
    return bool(getattr(settings, "HELPDESK_EGN_KEEP_ORIGINAL", False))


class Redactor:
    """Masks the texts of one message and remembers what it hid."""

    def __init__(self):
        self.count = 0
        self._originals: list[tuple[str, str, int]] = []

    def __call__(self, field: str, value: str) -> str:
        """Return `value` with its personal numbers masked; `field` names it in the originals."""
        masked, count = egn.mask(value)
        if count:
            self.count += count
            self._originals.append((field, value, count))
        return masked

    def keep(self, ticket, message=None) -> None:
        """Store the originals of what was masked, if the setting asks for it."""
        if self._originals and keep_originals():
            RedactedOriginal.objects.bulk_create(
                RedactedOriginal(
                    ticket=ticket, message=message, field=field, original=value, masked_count=n
                )
                for field, value, n in self._originals
            )
        self._originals = []
