"""Reads that may be a moment old go to the read replica (DATABASE_REPLICA_URL).

Reports, dashboards and knowledge-base pages read a lot and write little;
with a streaming replica configured they read from it while they run inside
``replica_reads()`` (or a view decorated with ``reads_from_replica``). Every
other read, every write, and any read made inside a transaction on the primary
(``transaction.atomic``: a write in progress must see its own rows) stay on the
primary. So do sessions, logins, lockouts and second factors, which must never
be a moment old.

Without a replica the router sends everything to the primary and the
decorator costs nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools

from django.conf import settings
from django.db import connections

REPLICA = "replica"
PRIMARY = "default"
# Tables that must be read where they are written.
PRIMARY_ONLY_APPS = frozenset(
    {"sessions", "axes", "otp_totp", "otp_static", "django_otp", "contenttypes"}
)

_replica_reads = contextvars.ContextVar("replica_reads", default=False)


def has_replica() -> bool:
    return REPLICA in settings.DATABASES


@contextlib.contextmanager
def replica_reads():
    """Within this block, reads outside a transaction go to the replica (if there is one)."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def reads_from_replica(view):
    """Run a view's reads on the replica; who the user is was read from the primary first."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not has_replica():
            return view(request, *args, **kwargs)
        # The session and the user behind request.user are loaded now, from
        # the primary: a login a moment ago may not have reached the replica.
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018  (evaluates the lazy user)
        with replica_reads():
            return view(request, *args, **kwargs)

    return wrapped


class ReplicaRouter:
    """settings.DATABASE_ROUTERS: replica reads inside ``replica_reads()``, all else primary."""

    def db_for_read(self, model, **hints):
        if (
            _replica_reads.get()
            and has_replica()
            and model._meta.app_label not in PRIMARY_ONLY_APPS
            and not connections[PRIMARY].in_atomic_block
        ):
            return REPLICA
        return PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of the primary: objects from either may be related.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db != REPLICA
