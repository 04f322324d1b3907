"""The access audit: who logged in, who failed, who was locked out, who changed whose rights.

Every row is an AccountEvent (append-only, see its model). This module writes
the rows that do not come from a service of their own: logins and failed
logins (Django's auth signals), lockouts (django-axes' signal), changes made
in the administration (called from accounts/admin.py) and directory imports;
and it reads them back for the administrators' CSV export.

Rows written elsewhere: delegation grants and revocations (accounts.services),
memberships synchronised at an edu.mon.bg login (accounts.oidc) and by the
directory import (accounts.directory).
"""

import csv
import datetime
import io
import ipaddress
import logging
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.utils import timezone
from django.utils.module_loading import import_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from accounts.models import AccountEvent, User
from accounts.second_factor import PASSWORD_LOGIN_KEY, otp_required_for

logger = logging.getLogger(__name__)

Kind = AccountEvent.Kind


# --------------------------------------------------------------------------- writing


def client_ip(request) -> str | None:
    """Return the address the request came from, or None when it has none.

    Behind a reverse proxy (settings.BEHIND_PROXY) that is the last address the
    proxy appended to X-Forwarded-For (earlier ones were written by the client
    and prove nothing); otherwise REMOTE_ADDR. django-axes uses the same
    function (AXES_CLIENT_IP_CALLABLE), so lockouts and the audit agree.
    """
    if request is None:
        return None
    meta = getattr(request, "META", {})
    candidate = meta.get("REMOTE_ADDR", "")
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if forwarded:
            candidate = forwarded[-1]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def record(
    kind: str,
    *,
    actor=None,
    subject=None,
    institution=None,
    request=None,
    detail: Mapping | None = None,
) -> AccountEvent:
    """Write one audit row; the actor defaults to the request's logged-in person."""
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    return AccountEvent.objects.create(
        kind=kind,
        actor=actor,
        subject=subject,
        institution=institution,
        ip=client_ip(request),
        detail=dict(detail or {}),
    )


def _person(username: str | None) -> User | None:
    if not username:
        return None
    return User.objects.filter(email__iexact=str(username).strip()).first()


def _login_method(request, user) -> str:
    path = getattr(user, "backend", None) or request.session.get(BACKEND_SESSION_KEY, "")
    try:
        backend = import_string(path) if path else None
    except ImportError:
        backend = None
    if backend is not None and issubclass(backend, OIDCAuthenticationBackend):
        return "oidc"
    return "password"


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    """user_logged_in: a login, with how it was made (password, with or without code; oidc)."""
    if request is None:
        return
    method = _login_method(request, user)
    detail = {"email": user.email, "method": method}
    if method == "password":
        owed = bool(request.session.get(PASSWORD_LOGIN_KEY)) and otp_required_for(user)
        detail["second_factor"] = "owed" if owed else "not asked"
    record(Kind.LOGIN, actor=user, subject=user, request=request, detail=detail)


def on_user_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """user_login_failed: a wrong password, a refused or locked-out login."""
    username = str(credentials.get("username") or "").strip().lower()
    detail = {"username": username, "method": "password" if username else "oidc"}
    if request is not None and getattr(request, "axes_locked_out", False):
        detail["locked_out"] = True
    record(Kind.LOGIN_FAILED, subject=_person(username), request=request, detail=detail)


def on_user_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """django-axes' user_locked_out: once per lockout (axes repeats it for each refused try)."""
    username = str(username or "").strip().lower()
    since = timezone.now() - lockout_period()
    already = AccountEvent.objects.filter(
        kind=Kind.LOCKOUT, created_at__gte=since, detail__username=username, ip=ip_address
    ).exists()
    if already:
        return
    AccountEvent.objects.create(
        kind=Kind.LOCKOUT,
        subject=_person(username),
        ip=ip_address,
        detail={"username": username, "minutes": int(lockout_period().total_seconds() // 60)},
    )


def lockout_period() -> datetime.timedelta:
    cooloff = getattr(settings, "AXES_COOLOFF_TIME", None)
    if isinstance(cooloff, datetime.timedelta):
        return cooloff
    if isinstance(cooloff, int | float):
        return datetime.timedelta(hours=cooloff)
    return datetime.timedelta(minutes=30)


def record_import(report, *, actor=None, request=None, source: str, file_name: str = "") -> None:
    """A directory import that wrote something (dry runs are not recorded)."""
    if report.dry_run:
        return
    record(
        Kind.DIRECTORY_IMPORT,
        actor=actor,
        request=request,
        detail={
            "kind": report.kind,
            "source": source,
            "file": file_name,
            "lines": report.lines,
            **report.summary(),
        },
    )


def record_membership(kind: str, membership, request, detail: Mapping) -> AccountEvent:
    """A membership added, changed or removed in the administration."""
    return record(
        kind,
        subject=membership.user,
        institution=membership.institution,
        request=request,
        detail={"person": membership.user.email, "source": "admin", **detail},
    )


def shown(value):
    """A form value as plain data for an event's detail (objects by name or code)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Iterable):
        return sorted(str(shown(item)) for item in value)
    for attribute in ("code", "email", "name"):
        if hasattr(value, attribute):
            return str(getattr(value, attribute))
    return str(value)


# --------------------------------------------------------------------------- reading

CSV_COLUMNS = (
    "when",
    "kind",
    "actor",
    "person",
    "institution",
    "ip",
    "detail",
)


def person_of(event: AccountEvent) -> str:
    """The person an event concerns, as an e-mail address ("" when none)."""
    if event.subject_id is not None and event.subject is not None:
        return event.subject.email
    detail = event.detail if isinstance(event.detail, dict) else {}
    return str(detail.get("person") or detail.get("delegate") or detail.get("username") or "")


def export_csv(events: Iterable[AccountEvent]) -> bytes:
    """Return `events` as CSV for Bulgarian Excel: UTF-8 with a BOM, `;` between fields."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    kinds = dict(Kind.choices)
    for event in events:
        row = [
            timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            f"{event.kind} ({kinds.get(event.kind, event.kind)})",
            event.actor.email if event.actor_id and event.actor else "",
            person_of(event),
            event.institution.code if event.institution_id and event.institution else "",
            event.ip or "",
            detail_text(event.detail),
        ]
        writer.writerow([_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(value: str) -> str:
    # A cell Excel would read as a formula (a username typed at the login form
    # can be anything) is written as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def detail_text(detail) -> str:
    """The detail of an event as one line of key=value pairs."""
    if not isinstance(detail, dict):
        return str(detail)
    return ", ".join(f"{key}={_plain(value)}" for key, value in sorted(detail.items()))


def _plain(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}:{_plain(v)}" for k, v in sorted(value.items()))
    return str(value)
