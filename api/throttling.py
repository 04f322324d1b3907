"""Rate limits per token and per person (all of a person's tokens and pages together).

Rates come from settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] at each
request ("token" and "person"), so an operator's change needs no code.
A refused request gets 429 with Retry-After (DRF adds it from wait()).
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiToken


class _SettingsRate(SimpleRateThrottle):
    def get_rate(self):
        return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(self.scope)


class TokenRateThrottle(_SettingsRate):
    scope = "token"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return None


class PersonRateThrottle(_SettingsRate):
    scope = "person"

    def get_cache_key(self, request, view):
        user = request.user
        ident = user.pk if user is not None and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
