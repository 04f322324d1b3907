from django.conf import settings


def helpdesk(request):
    user = getattr(request, "user", None)
    agent = user.agent if user is not None and user.is_authenticated else None
    return {
        "SUPPORT_ADDRESS": settings.HELPDESK["SUPPORT_ADDRESS"],
        "is_agent": bool(agent) or bool(user and user.is_authenticated and user.is_superuser),
        "agent_profile": agent,
        "OIDC_ENABLED": settings.OIDC_ENABLED,
    }
