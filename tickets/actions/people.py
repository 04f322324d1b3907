"""People on a request besides its requester: watchers and copied addresses.

A watcher is a person with an account or a bare e-mail address (CC). Both get
the request's public replies by mail; a person also sees the request in the
portal. Agents may add anyone who may be written to; institution staff may
add themselves ("follow that one instead") or a colleague of the request's
institution, never a stranger.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import filing_institution_ids, is_agent
from helpdesk.errors import DomainError, NotAllowed
from tickets import events, policies
from tickets.actions.base import announce, lock, require_login, require_visible
from tickets.models import Channel, Ticket, Watcher

MAX_WATCHERS = 50
ADDRESS_MAX = 254


def _clean_address(email: str) -> str:
    email = " ".join(str(email or "").split()).lower()
    if not email or len(email) > ADDRESS_MAX:
        raise DomainError(_("Enter an e-mail address."))
    try:
        validate_email(email)
    except ValidationError:
        raise DomainError(_("“%(email)s” is not an e-mail address.") % {"email": email}) from None
    return email


def _requester_address(ticket: Ticket) -> str:
    address = ticket.requester.email if ticket.requester_id else ticket.requester_email
    return (address or "").lower()


def _same_institution(ticket: Ticket, person) -> bool:
    return ticket.institution_id is not None and ticket.institution_id in filing_institution_ids(
        person
    )


def _check_may_add(ticket: Ticket, actor, user) -> None:
    """Staff of an institution may add themselves or a colleague of the request's institution."""
    if is_agent(actor):
        return
    if user is None:
        raise NotAllowed(_("Only support staff may copy an e-mail address on a request."))
    if user.pk == actor.pk:
        return
    if ticket.institution_id is None or ticket.institution_id not in filing_institution_ids(actor):
        raise NotAllowed(_("You may add only colleagues of the request's institution."))
    if ticket.institution_id not in filing_institution_ids(user):
        raise DomainError(_("This person does not work at the request's institution."))


@transaction.atomic
def add_watcher(
    ticket: Ticket,
    *,
    actor,
    user=None,
    email: str = "",
    source: str = Watcher.Source.CONSOLE,
    channel: str = Channel.CONSOLE,
    now=None,
) -> Watcher:
    """Add a person (`user`) or an address (`email`) to the request; return the watcher.

    Adding someone who already follows the request returns their row and
    writes nothing. The requester is never added as a watcher of their own
    request.
    """
    now = now or timezone.now()
    require_login(actor)
    if not (user is not None and user.pk == actor.pk and _same_institution(ticket, actor)):
        require_visible(ticket, actor)  # a colleague may follow a request of their institution
    if (user is None) == (not email):
        raise DomainError(_("Choose a person or enter an e-mail address."))
    if user is not None and not user.is_active:
        raise DomainError(_("This account has been deactivated."))
    _check_may_add(ticket, actor, user)
    ticket = lock(ticket)
    if user is None:
        email = _clean_address(email)
        # A known address becomes its person (who then also sees the request).
        user = User.objects.filter(email__iexact=email, is_active=True).first()
        if user is not None:
            email = ""
    address = (user.email if user is not None else email).lower()
    if user is not None and user.pk == ticket.requester_id or address == _requester_address(ticket):
        raise DomainError(_("The requester already gets every reply."))
    existing = Watcher.objects.filter(ticket=ticket)
    existing = (
        existing.filter(user=user)
        if user is not None
        else existing.filter(user__isnull=True, email=email)
    )
    found = existing.first()
    if found is not None:
        return found
    if Watcher.objects.filter(ticket=ticket).count() >= MAX_WATCHERS:
        raise DomainError(_("A request can have at most %(n)s people on it.") % {"n": MAX_WATCHERS})
    try:
        with transaction.atomic():
            watcher = Watcher.objects.create(
                ticket=ticket,
                user=user,
                email=email,
                source=source,
                added_by=actor if actor.is_authenticated else None,
                created_at=now,
            )
    except IntegrityError:  # added by someone else a moment ago
        return existing.get()
    events.watcher_added(ticket, actor=actor, channel=channel, address=address, at=now)
    announce(ticket.pk, "watchers")
    return watcher


@transaction.atomic
def remove_watcher(watcher: Watcher, *, actor, channel: str = Channel.CONSOLE, now=None) -> None:
    """Take someone off the request: an agent, the requester, whoever added them, or themselves."""
    now = now or timezone.now()
    require_login(actor)
    ticket = watcher.ticket
    require_visible(ticket, actor)
    if not policies.may_remove_watcher(actor, ticket, watcher):
        raise NotAllowed(_("You may not remove this person from the request."))
    ticket = lock(ticket)
    deleted, _rows = Watcher.objects.filter(pk=watcher.pk).delete()
    if not deleted:
        return  # already removed
    events.watcher_removed(ticket, actor=actor, channel=channel, address=watcher.address, at=now)
    announce(ticket.pk, "watchers")
