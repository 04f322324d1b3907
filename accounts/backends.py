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
    queries.
    """
    try:
        user = (
            get_user_model()
            ._default_manager.select_related("agent_profile")
            .filter(pk=user_id)
            .first()
        )
    except (ValueError, TypeError):
        return None
    return user if user is not None and backend.user_can_authenticate(user) else None


class PasswordBackend(ModelBackend):
    """Django's password check, refused to non-administrators when local login is admins-only."""

    def get_user(self, user_id):
        return load_user(self, user_id)

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and not may_use_local_password(user):
            return None
        return user
