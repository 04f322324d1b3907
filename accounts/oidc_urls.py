"""URLs of the edu.mon.bg login (mounted at /oidc/ by helpdesk/urls.py).

They are always in the URL configuration, so that switching OIDC_ENABLED (for
example in tests) needs no reload of it; while OIDC is off every one of them
answers 404.
"""

from functools import wraps

from django.conf import settings
from django.http import Http404
from django.urls import path

from accounts import oidc


def _only_when_enabled(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not getattr(settings, "OIDC_ENABLED", False):
            raise Http404("OpenID Connect login is not enabled")
        return view(request, *args, **kwargs)

    return guarded


# The names are mozilla-django-oidc's own: its views and the login template
# reverse them without a namespace.
urlpatterns = [
    path(
        "authenticate/",
        _only_when_enabled(oidc.AuthenticateView.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "callback/",
        _only_when_enabled(oidc.CallbackView.as_view()),
        name="oidc_authentication_callback",
    ),
    path("logout/", _only_when_enabled(oidc.LogoutView.as_view()), name="oidc_logout"),
    path(
        "unknown-institution/",
        _only_when_enabled(oidc.unknown_institution),
        name="oidc_unknown_institution",
    ),
]
