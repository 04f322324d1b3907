"""Keep a password session that still owes its second-factor code out of every page.

Put it after django_otp.middleware.OTPMiddleware (which tells whether the
session gave a code). See accounts/second_factor.py for who owes a code.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from accounts.second_factor import confirmed_device, owes_code

# Pages a session that owes a code may still open.
OPEN_VIEWS = frozenset(
    {
        "accounts:second_factor",
        "accounts:second_factor_setup",
        "accounts:logout",
        "oidc_logout",
        "set_language",
        "javascript-catalog",
        "healthz",
    }
)


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if owes_code(request) and not self._open(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": _("Enter the code from your authenticator app first.")},
                    status=403,
                )
            name = (
                "accounts:second_factor"
                if confirmed_device(request.user)
                else "accounts:second_factor_setup"
            )
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse(name)}?{query}")
        return self.get_response(request)

    @staticmethod
    def _open(request) -> bool:
        static = (
            settings.STATIC_URL
            if settings.STATIC_URL.startswith("/")
            else "/" + settings.STATIC_URL
        )
        if request.path.startswith(static):
            return True
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.view_name in OPEN_VIEWS
