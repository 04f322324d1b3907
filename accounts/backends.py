"""Authentication backends for local passwords: lockout first, then the password.

settings.AUTHENTICATION_BACKENDS lists LockoutBackend first (django-axes:
a username + client address with too many failures is refused before any
password is checked), the edu.mon.bg backend when OIDC is on, and
PasswordBackend last.
"""

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router

from accounts.models import AgentProfile
from helpdesk.rowsql import ModelColumns, cache_one_to_one, composed


def lockout_username(request, credentials) -> str | None:
    """The username django-axes counts failures for: the e-mail address, lower-cased.

    (AXES_USERNAME_CALLABLE) Without it "A@x.bg" and "a@x.bg" would be counted
    apart, and a caller could try five passwords for each spelling.
    """
    source = credentials if credentials else getattr(request, "POST", {})
    value = source.get(settings.AXES_USERNAME_FORM_FIELD) if source else None
    if value is None:
        return None
    return str(value).strip().lower()


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check, only where there is a client to lock out.

    Calls without a request (management commands, the shell, code that checks
    a password) and logins without a username (the edu.mon.bg callback, whose
    provider has its own protection) pass through unchecked: a school behind
    one address must not lock each other out of edu.mon.bg logins.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or username is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def may_use_local_password(user) -> bool:
    """True if `user` may log in with a local password under HELPDESK_LOCAL_LOGIN."""
    if getattr(settings, "HELPDESK_LOCAL_LOGIN", "everyone") != "admins-only":
        return True
    return bool(user.is_staff or user.is_superuser)


def load_user(backend: ModelBackend, user_id):
    """The session's person with their agent profile in one query (or None if inactive).

    Every request asks who the person is and, through visible_to and the
    permission helpers, whether they are an agent: one join instead of two
    queries, and a statement composed once per database instead of by the
    ORM on every request (helpdesk/rowsql.py).
    """
    try:
        user_id = int(user_id)
    except (ValueError, TypeError):
        return None
    user = read_person(pk=user_id)
    return user if user is not None and backend.user_can_authenticate(user) else None


def read_person(*, pk: int | None = None, email: str | None = None):
    """The person with this id or this (exact) e-mail address, their agent profile
    cached (or known to be missing); None when there is no such row.

    One statement, composed once per database and key (helpdesk/rowsql.py):
    the session's person on every request, a mail's sender on every mail.
    """
    if (pk is None) == (email is None):
        raise ValueError("read_person takes pk or email")
    using = router.db_for_read(get_user_model())
    conn = connections[using]
    statement = composed(_UserStatement, conn, "id" if pk is not None else "email")
    with conn.cursor() as cursor:
        cursor.execute(statement.sql, [pk if pk is not None else email])
        row = cursor.fetchone()
    if row is None:
        return None
    user = statement.users.build(row)
    profile = statement.profiles.build(row, statement.users.width)
    cache_one_to_one(statement.profile_user, user, profile)
    return user


class _UserStatement:
    def __init__(self, connection, key: str):
        qn = connection.ops.quote_name
        User = get_user_model()
        self.users = ModelColumns(User, "u", connection)
        self.profiles = ModelColumns(AgentProfile, "p", connection)
        self.profile_user = AgentProfile._meta.get_field("user")
        self.sql = (
            f"SELECT {self.users.sql}, {self.profiles.sql}"
            f" FROM {qn(User._meta.db_table)} u"
            f" LEFT OUTER JOIN {qn(AgentProfile._meta.db_table)} p"
            f" ON {self.profiles.column('user', 'p')} = {self.users.column('id', 'u')}"
            f" WHERE {self.users.column(key, 'u')} = %s"
        )


class PasswordBackend(ModelBackend):
    """Django's password check, refused to non-administrators when local login is admins-only."""

    def get_user(self, user_id):
        return load_user(self, user_id)

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not may_use_local_password(user):
            return None
        return user
