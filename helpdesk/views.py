from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render


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
