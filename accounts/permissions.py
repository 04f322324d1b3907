"""What a person may do at an institution: roles plus delegations in force.

These helpers feed Ticket.objects.visible_to() and the services; they are the
only place that turns memberships and delegations into rights.
"""

from django.utils import timezone

from accounts import rights_cache
from accounts.models import INSTITUTION_WIDE_ROLES, Delegation, Institution, Role


def is_agent(user) -> bool:
    """Support staff (experts, central support, supervisors) and administrators."""
    return bool(user is not None and user.is_authenticated and (user.is_superuser or user.is_agent))


def is_supervisor(user) -> bool:
    """Administrators, and supervisors of a region or of the whole country."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    agent = user.agent
    return agent is not None and agent.is_supervisor


def _cache(user, key, compute):
    # Memoised on the user object, which lives for one request. Across
    # requests the data comes from accounts.rights_cache, whose entries are
    # invalidated by every change to memberships, delegations, institutions
    # and regions: a revoked delegation is honoured on the very next request.
    store = user.__dict__.setdefault("_hd_rights", {})
    if key not in store:
        store[key] = compute()
    return store[key]


def _rights_data(user) -> dict:
    return _cache(user, "data", lambda: rights_cache.load(user.pk))


def member_roles(user) -> dict[int, str]:
    """Return {institution_id: role} for the user's memberships."""
    if not user.is_authenticated:
        return {}
    return _rights_data(user)["roles"]


def member_institutions(user) -> list[Institution]:
    """The institutions of the user's memberships, with their regions, in the order of their names.

    Built from the cached rows (no query on a warm request); the filing
    form's choices.
    """
    if not user.is_authenticated:
        return []
    return _cache(user, "institutions", lambda: rights_cache.institutions(_rights_data(user)))


def active_delegations(user, at=None) -> list[Delegation]:
    if not user.is_authenticated:
        return []
    if at is not None:
        return list(Delegation.objects.active(at).filter(delegate=user))
    # The cache keeps every delegation not yet over or revoked when it was
    # filled; which of them are in force is decided now, on every call.
    now = timezone.now()
    kept = _cache(user, "delegations", lambda: rights_cache.delegations(_rights_data(user)))
    return [d for d in kept if d.is_active(now)]


def followed_institution_ids(user, at=None) -> set[int]:
    """Institutions whose every request the user may follow."""
    ids = {iid for iid, role in member_roles(user).items() if role in INSTITUTION_WIDE_ROLES}
    members_of = member_roles(user)
    for delegation in active_delegations(user, at):
        # A delegation lends rights to a colleague; someone who has left the
        # institution keeps none of them, whatever the delegation's end date.
        if Delegation.Right.FOLLOW in delegation.rights and delegation.institution_id in members_of:
            ids.add(delegation.institution_id)
    return ids


def filing_institution_ids(user, at=None) -> set[int]:
    """Institutions the user may file requests for."""
    return set(member_roles(user))


def can_set_priority(user, institution_id: int) -> bool:
    if user.is_agent or user.is_superuser:
        return True
    roles = member_roles(user)
    if roles.get(institution_id) in INSTITUTION_WIDE_ROLES:
        return True
    # Delegated rights count only for a colleague still at the institution,
    # as in followed_institution_ids.
    return institution_id in roles and any(
        d.institution_id == institution_id and Delegation.Right.FILE in d.rights
        for d in active_delegations(user)
    )


def directed_institution_ids(user) -> set[int]:
    """Institutions where the user is the director (and so may delegate)."""
    return {iid for iid, role in member_roles(user).items() if role == Role.DIRECTOR}
