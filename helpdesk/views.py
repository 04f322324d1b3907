import hmac
import ipaddress
import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.audit import client_ip
from helpdesk import health


def home(request):
    """Send people where they work: agents to the console, staff to the portal."""
    user = request.user
    if user.is_authenticated:
        if user.is_agent and _has_route("console:queue"):
            return redirect("console:queue")
        if _has_route("portal:list"):
            return redirect("portal:list")
    return render(request, "home.html")


def _has_route(name: str) -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def health_live(request):
    """Liveness: the process answers. No database, nothing that can hang."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def health_ready(request):
    """Readiness: 200 when the critical checks pass (503 otherwise; any check with ?strict=1).

    Everyone gets the overall status; the checks and their details (server
    names, errors, backlog) only staff, a caller with HEALTH_TOKEN or one on
    this machine (docs/deployment.md).
    """
    trusted = _may_see_health_details(request)
    report = health.run() if trusted else _public_report()
    strict = request.GET.get("strict", "") in ("1", "true", "yes")
    body = {"status": report.status}
    if trusted:
        body["checks"] = {result.name: result.as_dict() for result in report.results}
    return JsonResponse(body, status=report.http_status(strict=strict))


# Anyone may ask for the readiness; answers to the public are reused for
# HEALTH_PUBLIC_CACHE_SECONDS, so asking often costs one run of the checks.
_public_cache: dict = {"at": None, "report": None}


def _public_report():
    now = time.monotonic()
    at = _public_cache["at"]
    if at is None or now - at >= settings.HEALTH_PUBLIC_CACHE_SECONDS:
        _public_cache["report"], _public_cache["at"] = health.run(), now
    return _public_cache["report"]


def _may_see_health_details(request) -> bool:
    token = settings.HEALTH_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(
            given[len("Bearer ") :].strip().encode(), token.encode()
        ):
            return True
    address = client_ip(request)
    if address is not None and ipaddress.ip_address(address).is_loopback:
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)
