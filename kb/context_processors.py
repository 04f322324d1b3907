"""Template context of the knowledge base: the announcement banners."""

from django.utils.functional import SimpleLazyObject

from kb.announcements import CONSOLE, PORTAL, announcements_for

# Pages under these URL namespaces show no banners (the admin has its own layout).
_NO_BANNERS = {"admin"}


def announcements(request):
    """Provide `announcements`: a lazy list, queried only when a template shows it."""
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match is not None else ""
    if namespace in _NO_BANNERS:
        return {"announcements": []}
    place = CONSOLE if namespace == "console" else PORTAL
    user = getattr(request, "user", None)
    return {"announcements": SimpleLazyObject(lambda: announcements_for(user, place))}
