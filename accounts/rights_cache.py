"""A person's memberships, institutions and delegations, kept in the cache between requests.

Every portal page (and every filing) needs who the person is at which
institution: their memberships (institution → role), the institutions with
their regions (the filing form's choices), and their delegations. Read from
the database that is three statements on every request. Here they are read
once and kept in Django's cache (Redis in production, local memory in the
embedded default) as plain data:

- ``roles``: {institution_id: role};
- ``institutions``: the rows of those institutions and of their regions,
  in the order of their names;
- ``delegations``: the person's delegations that were neither revoked nor
  over when the entry was made, with their periods. Whether one is *in force*
  is decided again on every use, against the clock (permissions.py), so a
  delegation that starts or ends needs no invalidation.

Exact invalidation, by versions. An entry is tagged with the versions it was
computed under and is used only while they are still current:

- a per-person version, replaced (bump_people) when a membership or a
  delegation of that person is saved or deleted (signals below) or changed in
  bulk (accounts.services.end_delegations);
- a directory version, replaced (bump_directory) when an institution or a
  region is saved or deleted, and by the directory import, which writes in
  bulk and touches many people at once.

A version is a random token, never a counter: a version key the cache evicted
comes back as a new token, which no entry carries. Each bump happens twice:
at once (so the rest of the transaction, and a test inside one, reads the new
state) and again when the transaction commits, because a request that read
the old rows just before the commit may have stored them under the version of
the first bump.

The local-memory cache is private to its process; in the embedded default
the directory import (a management command) or a celery task may change
rights in another process. There every bump also rewrites a small stamp file
(settings.HELPDESK_RIGHTS_STAMP_FILE, by default var/rights.stamp) whose
content is part of every tag, so the web process notices a change made
elsewhere on the next request. Redis is shared by all processes and needs no
stamp.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import uuid
from pathlib import Path

from django.core.cache import cache
from django.db import router, transaction
from django.db.models.signals import post_delete, post_init, post_save
from django.utils import timezone

from accounts.models import Delegation, Institution, Membership, Region
from helpdesk import stamps

logger = logging.getLogger(__name__)

# An entry is a safety net, not a source of truth: even if a bump were lost,
# nothing stays stale longer than this.
ENTRY_SECONDS = 15 * 60

_DIRECTORY_KEY = "rights:directory"


def _person_key(user_id) -> str:
    return f"rights:v:{user_id}"


def _entry_key(user_id) -> str:
    return f"rights:e:{user_id}"


# --------------------------------------------------------------------------- stamp file


def stamp_path() -> Path | None:
    """The stamp file shared by this machine's processes, or None (a shared cache)."""
    return stamps.path("rights", "HELPDESK_RIGHTS_STAMP_FILE")


def _read_stamp() -> str:
    return stamps.read(stamp_path())


def _write_stamp() -> None:
    stamps.renew(stamp_path())


# --------------------------------------------------------------------------- versions


def _new_token() -> str:
    return uuid.uuid4().hex


def _current(found: dict, key: str) -> str:
    token = found.get(key)
    if token is not None:
        return token
    token = _new_token()
    if cache.add(key, token, None):
        return token
    # Another request made it first; if it is already gone again, our token
    # matches no stored version, so whatever is tagged with it is simply missed.
    return cache.get(key) or token


def _bump_now(user_ids) -> None:
    tokens = {_person_key(uid): _new_token() for uid in user_ids}
    if tokens:
        cache.set_many(tokens, None)
        _write_stamp()


def _bump_directory_now() -> None:
    cache.set(_DIRECTORY_KEY, _new_token(), None)
    _write_stamp()


def _after_commit(function, *args, using=None) -> None:
    def run():
        try:
            function(*args)
        except Exception:  # the data is committed; the first bump already happened
            logger.exception("rights cache: the bump after commit failed")

    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        transaction.on_commit(run, using=using)


_directory_import = contextvars.ContextVar("rights_directory_import", default=False)


@contextlib.contextmanager
def directory_import():
    """Within this block per-person bumps are left out: the import bumps the directory version.

    The directory import writes memberships and ends delegations by the
    thousand; each of its write transactions calls bump_directory() instead
    of one bump per row.
    """
    token = _directory_import.set(True)
    try:
        yield
    finally:
        _directory_import.reset(token)


def bump_people(user_ids, *, using=None) -> None:
    """Forget the cached rights of these people (now, and again when the transaction commits)."""
    if _directory_import.get():
        return
    user_ids = sorted({uid for uid in user_ids if uid is not None})
    if not user_ids:
        return
    _bump_now(user_ids)
    _after_commit(_bump_now, user_ids, using=using)


def bump_directory(*, using=None) -> None:
    """Forget everyone's cached rights: institutions, regions or many people changed."""
    _bump_directory_now()
    _after_commit(_bump_directory_now, using=using)


# --------------------------------------------------------------------------- reading


def _compute(user_id) -> dict:
    institution_fields = [f.attname for f in Institution._meta.concrete_fields]
    region_fields = [f.attname for f in Region._meta.concrete_fields]
    roles: dict[int, str] = {}
    institutions = []
    memberships = (
        Membership.objects.filter(user_id=user_id)
        .select_related("institution__region")
        .order_by("institution__name")
    )
    for membership in memberships:
        roles[membership.institution_id] = membership.role
        institution = membership.institution
        institutions.append(
            (
                tuple(getattr(institution, name) for name in institution_fields),
                tuple(getattr(institution.region, name) for name in region_fields),
            )
        )
    delegation_fields = [f.attname for f in Delegation._meta.concrete_fields]
    delegations = [
        tuple(row)
        for row in Delegation.objects.filter(
            delegate_id=user_id, revoked_at__isnull=True, valid_until__gt=timezone.now()
        ).values_list(*delegation_fields)
    ]
    return {
        "roles": roles,
        "institution_fields": institution_fields,
        "region_fields": region_fields,
        "institutions": institutions,
        "delegation_fields": delegation_fields,
        "delegations": delegations,
    }


def load(user_id) -> dict:
    """The person's rights data: from the cache when its versions are current, else computed."""
    person_key, entry_key = _person_key(user_id), _entry_key(user_id)
    try:
        found = cache.get_many([_DIRECTORY_KEY, person_key, entry_key])
        tag = (_current(found, _DIRECTORY_KEY), _current(found, person_key), _read_stamp())
    except Exception:  # no cache: the database answers, as it did before the cache
        logger.warning("rights cache unavailable; reading rights from the database", exc_info=True)
        return _compute(user_id)
    entry = found.get(entry_key)
    if entry is not None and entry[0] == tag:
        return entry[1]
    data = _compute(user_id)
    try:
        cache.set(entry_key, (tag, data), ENTRY_SECONDS)
    except Exception:
        logger.warning("rights cache unavailable; entry not stored", exc_info=True)
    return data


def institutions(data: dict) -> list:
    """Institution objects (with their region loaded) from `data`, in the order of their names."""
    db = router.db_for_read(Institution)
    rows = []
    for institution_values, region_values in data["institutions"]:
        institution = Institution.from_db(db, data["institution_fields"], institution_values)
        institution.region = Region.from_db(db, data["region_fields"], region_values)
        rows.append(institution)
    return rows


def delegations(data: dict) -> list:
    """Delegation objects from `data` (every one kept, in force or not), newest start first."""
    db = router.db_for_read(Delegation)
    fields = data["delegation_fields"]
    rows = [Delegation.from_db(db, fields, values) for values in data["delegations"]]
    rows.sort(key=lambda d: d.valid_from, reverse=True)
    return rows


# --------------------------------------------------------------------------- signals


_OWNER = {"Membership": "user_id", "Delegation": "delegate_id"}


def _remember_owner(sender, instance, **kwargs):
    # The person a row belonged to when it was loaded: a membership or a
    # delegation moved to someone else (the administration allows it) must
    # be forgotten for both people.
    instance.__dict__["_hd_rights_owner"] = instance.__dict__.get(_OWNER[sender.__name__])


def _owned_row_changed(sender, instance, using=None, **kwargs):
    current = getattr(instance, _OWNER[sender.__name__])
    bump_people([instance.__dict__.get("_hd_rights_owner"), current], using=using)
    instance.__dict__["_hd_rights_owner"] = current


def _directory_changed(sender, instance, using=None, **kwargs):
    bump_directory(using=using)


def connect() -> None:
    for model in (Membership, Delegation):
        post_init.connect(_remember_owner, model, dispatch_uid=f"hd_rights_{model.__name__}_init")
    for signal in (post_save, post_delete):
        name = "save" if signal is post_save else "delete"
        for model in (Membership, Delegation):
            signal.connect(
                _owned_row_changed, model, dispatch_uid=f"hd_rights_{model.__name__}_{name}"
            )
        for model in (Institution, Region):
            signal.connect(
                _directory_changed, model, dispatch_uid=f"hd_rights_{model.__name__}_{name}"
            )
