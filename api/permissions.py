"""What a token may be used for: read, file, reply, act (each view names the scope it needs)."""

from django.utils.translation import gettext as _
from rest_framework.permissions import BasePermission

from api.authentication import scopes_of
from api.errors import ApiError


def scope_needed(request, view) -> str:
    scopes = getattr(view, "action_scopes", {})
    action = getattr(view, "action", None)
    if action in scopes:
        return scopes[action]
    return "read" if request.method in ("GET", "HEAD", "OPTIONS") else "act"


class HasScope(BasePermission):
    """Refuses (403, code "scope") a token that lacks the scope of the action."""

    def has_permission(self, request, view):
        needed = scope_needed(request, view)
        if needed not in scopes_of(request):
            raise ApiError(
                _("This token may not do this (it lacks the “%(scope)s” scope).")
                % {"scope": needed},
                code="scope",
                status_code=403,
            )
        return True
