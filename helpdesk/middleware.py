"""Middleware of the base layer.

The Content-Security-Policy header comes from django-csp
(settings.CONTENT_SECURITY_POLICY); this module keeps sessions short.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.utils.translation import gettext as _

# Session key: when this session last served a request (Unix seconds).
LAST_SEEN_KEY = "hd_last_seen"
# The stored time is refreshed at most this often, so that a burst of requests
# does not write the session row every time (each write also renews its expiry).
REFRESH_SECONDS = 60


class IdleSessionMiddleware:
    """Log out a session that made no request for SESSION_IDLE_MINUTES.

    The session cookie and the stored session expire after the same time
    (SESSION_COOKIE_AGE), renewed whenever the last-seen time is written; this
    check also ends sessions whose expiry was set otherwise (OIDC sessions have
    a fixed end, set at login). Put it after AuthenticationMiddleware and
    MessageMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            now = int(time.time())
            last_seen = session.get(LAST_SEEN_KEY)
            idle = settings.SESSION_IDLE_MINUTES * 60
            if isinstance(last_seen, int) and now - last_seen > idle:
                logout(request)
                messages.info(
                    request,
                    _("You were logged out after %(minutes)d minutes without activity.")
                    % {"minutes": settings.SESSION_IDLE_MINUTES},
                )
            elif not isinstance(last_seen, int) or now - last_seen >= REFRESH_SECONDS:
                session[LAST_SEEN_KEY] = now
        return self.get_response(request)


def note_login(sender, request, user, **kwargs) -> None:
    """user_logged_in: a login is activity (the first request after it then writes nothing)."""
    session = getattr(request, "session", None)
    if session is not None:
        session[LAST_SEEN_KEY] = int(time.time())
