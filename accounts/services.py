"""Writes to people's rights: granting and revoking delegations.

A director lends the institution's portal rights to a colleague for a period.
Each change runs in one transaction and leaves an AccountEvent saying who did
what, so that "who could see our requests last March" has an answer.
"""

import datetime
import logging
from collections.abc import Iterable
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import caches
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit, rights_cache, signals
from accounts.models import AccountEvent, Delegation, Institution, Membership, Role, User
from helpdesk.errors import DomainError, InvalidTransition, NotAllowed

logger = logging.getLogger(__name__)

# How far back a start may lie: the form is filled in a minute or two before
# it is sent, and "from now" must not fail because of that.
START_GRACE = datetime.timedelta(minutes=1)
MAX_PERIOD = datetime.timedelta(days=365)
DEFAULT_RIGHTS = (Delegation.Right.FILE, Delegation.Right.FOLLOW)


def _is_director(user, institution: Institution) -> bool:
    # Only the membership counts: a delegation never carries the right to
    # delegate further.
    return Membership.objects.filter(
        user=user, institution=institution, role=Role.DIRECTOR
    ).exists()


def _iso(value: datetime.datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="minutes")


@transaction.atomic
def grant_delegation(
    *,
    actor,
    institution: Institution,
    delegate,
    valid_from: datetime.datetime,
    valid_until: datetime.datetime,
    rights: Iterable[str] = DEFAULT_RIGHTS,
    note: str = "",
    now: datetime.datetime | None = None,
) -> Delegation:
    """Lend `rights` at `institution` to `delegate` for [valid_from, valid_until); return it.

    Raises NotAllowed unless the actor is the institution's director, and
    DomainError (with the form field) for a bad colleague, period or rights.
    """
    now = now or timezone.now()
    if actor is None or not actor.is_authenticated:
        raise NotAllowed(_("You must be logged in."))
    # Lock the institution row so that two grants to the same person cannot
    # both pass the overlap check.
    institution = Institution.objects.select_for_update().get(pk=institution.pk)
    if not _is_director(actor, institution):
        raise NotAllowed(_("Only the institution's director may delegate rights."))
    if delegate is None:
        raise DomainError(_("Choose a colleague."), field="delegate")
    if delegate.pk == actor.pk:
        raise DomainError(_("You cannot delegate rights to yourself."), field="delegate")
    if (
        not delegate.is_active
        or not Membership.objects.filter(user=delegate, institution=institution).exists()
    ):
        raise DomainError(
            _("Rights can be delegated only to a colleague of the same institution."),
            field="delegate",
        )
    rights = sorted(set(rights or ()))
    if not rights:
        raise DomainError(_("Choose at least one right."), field="rights")
    unknown = [r for r in rights if r not in Delegation.Right.values]
    if unknown:
        raise DomainError(_("Unknown right: %(r)s") % {"r": ", ".join(unknown)}, field="rights")
    if valid_from is None or valid_until is None:
        raise DomainError(_("Give the start and the end of the period."), field="valid_from")
    if timezone.is_naive(valid_from) or timezone.is_naive(valid_until):
        raise DomainError(_("The period needs a time zone."), field="valid_from")
    if valid_from < now - START_GRACE:
        raise DomainError(_("The start cannot be in the past."), field="valid_from")
    if valid_until <= valid_from:
        raise DomainError(_("The end must be after the start."), field="valid_until")
    if valid_until - valid_from > MAX_PERIOD:
        raise DomainError(
            _("A delegation can last at most %(days)s days.") % {"days": MAX_PERIOD.days},
            field="valid_until",
        )
    overlapping = Delegation.objects.filter(
        institution=institution,
        delegate=delegate,
        revoked_at__isnull=True,
        valid_from__lt=valid_until,
        valid_until__gt=valid_from,
    ).first()
    if overlapping is not None:
        raise DomainError(
            _("%(who)s already has a delegation from %(start)s to %(end)s; revoke it first.")
            % {
                "who": delegate,
                "start": timezone.localtime(overlapping.valid_from).strftime("%d.%m.%Y %H:%M"),
                "end": timezone.localtime(overlapping.valid_until).strftime("%d.%m.%Y %H:%M"),
            },
            field="delegate",
        )
    note = (note or "").strip()[:200]
    delegation = Delegation.objects.create(
        institution=institution,
        granted_by=actor,
        delegate=delegate,
        rights=rights,
        valid_from=valid_from,
        valid_until=valid_until,
        note=note,
    )
    AccountEvent.objects.create(
        actor=actor,
        subject=delegate,
        institution=institution,
        delegation=delegation,
        kind=AccountEvent.Kind.DELEGATION_GRANTED,
        detail={
            "delegate": delegate.email,
            "rights": rights,
            "valid_from": _iso(valid_from),
            "valid_until": _iso(valid_until),
            "note": note,
        },
        created_at=now,
    )
    return delegation


@transaction.atomic
def revoke_delegation(
    *, actor, delegation: Delegation, now: datetime.datetime | None = None
) -> Delegation:
    """End `delegation` at once (or cancel one not yet started); return it.

    Raises NotAllowed unless the actor directs the delegation's institution,
    InvalidTransition when it was already revoked or has ended.
    """
    now = now or timezone.now()
    if actor is None or not actor.is_authenticated:
        raise NotAllowed(_("You must be logged in."))
    delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
    if not _is_director(actor, delegation.institution):
        raise NotAllowed(_("Only the institution's director may revoke rights."))
    if delegation.revoked_at is not None:
        raise InvalidTransition(_("This delegation was already revoked."))
    if delegation.valid_until <= now:
        raise InvalidTransition(_("This delegation has already ended."))
    end_delegations([delegation], actor=actor, now=now)
    return delegation


@transaction.atomic
def end_delegations(
    delegations: Iterable[Delegation],
    *,
    actor,
    now: datetime.datetime | None = None,
    reason: str = "",
) -> list[Delegation]:
    """End each delegation still active or scheduled at `now`; return those ended.

    Each gets revoked_at (and revoked_by = actor, None for a command) and a
    "delegation_revoked" AccountEvent; `reason` (when given) goes into its
    detail. No permission check: revoke_delegation checks the director, the
    directory import ends the delegations of people who left. Pass the
    delegations with their delegate loaded (select_related("delegate")).
    """
    now = now or timezone.now()
    ended = [d for d in delegations if d.revoked_at is None and d.valid_until > now]
    events = []
    for delegation in ended:
        was = "scheduled" if delegation.valid_from > now else "active"
        delegation.revoked_at = now
        delegation.revoked_by = actor
        detail = {"delegate": delegation.delegate.email, "was": was, "revoked_at": _iso(now)}
        if reason:
            detail["reason"] = reason
        events.append(
            AccountEvent(
                actor=actor,
                subject_id=delegation.delegate_id,
                institution_id=delegation.institution_id,
                delegation=delegation,
                kind=AccountEvent.Kind.DELEGATION_REVOKED,
                detail=detail,
                created_at=now,
            )
        )
    if ended:
        Delegation.objects.bulk_update(ended, ["revoked_at", "revoked_by"])
        # bulk_update sends no post_save: the delegates' cached rights go here.
        rights_cache.bump_people(d.delegate_id for d in ended)
        AccountEvent.objects.bulk_create(events)
    return ended


def mark_email_undeliverable(addresses: Iterable[str]) -> int:
    """Stop mailing people whose address bounced; return how many accounts were marked."""
    addresses = sorted({a.lower() for a in addresses if a})
    return User.objects.filter(email__in=addresses).update(email_undeliverable=True)


def mark_email_deliverable(user) -> None:
    """Mail `user` again: someone who writes to us can evidently receive mail."""
    User.objects.filter(pk=user.pk).update(email_undeliverable=False)
    user.email_undeliverable = False


# --------------------------------------------------------------------------- deactivation


def end_sessions(user) -> int:
    """Delete every stored session of `user`; return how many there were.

    Sessions are rows of the database session backend (the helpdesk's
    default); each one names its person only inside the signed data, so the
    live ones are read one by one. Run when an account is deactivated, so that
    an open page loses access on its very next request.
    """
    engine = import_module(settings.SESSION_ENGINE)
    store_class = engine.SessionStore
    if not hasattr(store_class, "get_model_class"):
        logger.warning("end_sessions: %s keeps no session rows to delete", settings.SESSION_ENGINE)
        return 0
    model = store_class.get_model_class()
    store = store_class()
    wanted = str(user.pk)
    keys = [
        key
        for key, data in model.objects.filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data")
        .iterator(chunk_size=2000)
        if str(store.decode(data).get(SESSION_KEY)) == wanted
    ]
    prefix = getattr(store_class, "cache_key_prefix", None)
    for start in range(0, len(keys), 500):
        batch = keys[start : start + 500]
        model.objects.filter(session_key__in=batch).delete()
        if prefix:  # cached_db: the cached copy would otherwise outlive the row
            caches[settings.SESSION_CACHE_ALIAS].delete_many([prefix + key for key in batch])
    return len(keys)


def deactivate_user(user, *, actor, request=None) -> int:
    """Deactivate `user` (if still active), end their sessions and record it; return sessions ended.

    Sends accounts.signals.user_deactivated, so that other parts (API tokens)
    can end what they keep for the person.
    """
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        ended = end_sessions(user)
        audit.record(
            AccountEvent.Kind.DEACTIVATED,
            actor=actor,
            subject=user,
            request=request,
            detail={"email": user.email, "sessions_ended": ended},
        )
    signals.user_deactivated.send_robust(sender=User, user=user, actor=actor)
    return ended


def reactivate_user(user, *, actor, request=None) -> None:
    """Let `user` log in again, and record it."""
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True
    audit.record(
        AccountEvent.Kind.REACTIVATED,
        actor=actor,
        subject=user,
        request=request,
        detail={"email": user.email},
    )
