"""Template context every page needs: who is looking, and what they may open."""

from django.conf import settings

from accounts.permissions import directed_institution_ids, is_agent


def helpdesk(request):
    user = getattr(request, "user", None)
    agent = user.agent if user is not None and user.is_authenticated else None
    return {
        "SUPPORT_ADDRESS": settings.HELPDESK["SUPPORT_ADDRESS"],
        "is_agent": is_agent(user),
        "agent_profile": agent,
        "OIDC_ENABLED": settings.OIDC_ENABLED,
        # Only directors delegate; a callable so pages that never show the
        # menu do not pay for the lookup.
        "can_delegate": lambda: _can_delegate(user),
    }


def _can_delegate(user) -> bool:
    return bool(user is not None and user.is_authenticated and directed_institution_ids(user))
