"""Stamp files: a version that every process of this machine sees, without a shared cache.

The embedded default keeps its cache in each process's memory (locmem), so a
version kept there (of a person's rights, of the known surge incidents) is
not seen by the others: the web server, the celery worker and a management
command. A stamp file in the var directory carries the version instead: a
change rewrites it with a new random token, a reader compares the token with
the one its copy was made under. Reading it is a small file read, far cheaper
than the database query it spares. With Redis the versions live in the
shared cache and no stamp is used.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

_UNSET = object()


def path(name: str, setting: str) -> Path | None:
    """The stamp file `name` of this machine's processes, or None (a shared cache).

    The setting `setting` names the file explicitly ("" turns the stamp off).
    """
    configured = getattr(settings, setting, _UNSET)
    if configured is not _UNSET:
        return Path(configured) if configured else None
    if not isinstance(caches["default"], LocMemCache):
        return None
    if os.environ.get("HELPDESK_TESTING", "").lower() in ("1", "true", "yes", "on"):
        # Tests run in parallel processes over one var directory; each one's
        # changes would only make the others miss. Tests of a stamp set it.
        return None
    return Path(settings.VAR_DIR) / f"{name}.stamp"


def read(stamp: Path | None) -> str:
    """The stamp's token ("" when there is no stamp or no file yet)."""
    if stamp is None:
        return ""
    try:
        return stamp.read_text(encoding="ascii")
    except FileNotFoundError:
        return ""


def renew(stamp: Path | None) -> None:
    """Write a new token into the stamp (nothing without one)."""
    if stamp is None:
        return
    stamp.parent.mkdir(parents=True, exist_ok=True)
    temporary = stamp.with_name(f"{stamp.name}.{os.getpid()}.{uuid.uuid4().hex}")
    temporary.write_text(uuid.uuid4().hex, encoding="ascii")
    os.replace(temporary, stamp)  # readers see the old token or the new one, never half
