from django.conf import settings


def helpdesk(request):
    user = getattr(request, "user", None)
    agent = user.agent if user is not None and user.is_authenticated else None
    return {
        "SUPPORT_ADDRESS": settings.HELPDESK["SUPPORT_ADDRESS"],
        "is_agent": bool(agent) or bool(user and user.is_authenticated and user.is_superuser),
        "agent_profile": agent,
        "OIDC_ENABLED": settings.OIDC_ENABLED,
        # Only directors delegate; a callable so pages that never show the
        # menu do not pay for the lookup.
        "can_delegate": lambda: _can_delegate(user),
    }


def _can_delegate(user) -> bool:
    from accounts.permissions import directed_institution_ids

    return bool(user is not None and user.is_authenticated and directed_institution_ids(user))
