"""People of the test provider: logins, passwords and claims from people.json.

people.json maps a login to {"password": ..., and every claim to send}, e.g.
{"ivan": {"password": "pw", "email": "ivan@edu.mon.bg", "name": "Иван",
"neispuo_roles": [{"institution": "2206409", "role": "director"}]}}.
It is read on every request, so tests change claims by rewriting the file.
"""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.utils.crypto import constant_time_compare
from oauth2_provider.oauth2_validators import OAuth2Validator


def load_people() -> dict[str, dict]:
    """Return {login: {password, claims...}} as the file says now."""
    path = settings.STATE_DIR / "people.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


class PeopleFileBackend(ModelBackend):
    """Check the password against people.json; keep a Django user per login."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        person = load_people().get(username or "")
        if person is None or not constant_time_compare(person.get("password", ""), password or ""):
            return None
        user, _created = get_user_model().objects.get_or_create(username=username)
        return user


class PeopleValidator(OAuth2Validator):
    """Send the claims of people.json; the non-standard ones with scope "neispuo"."""

    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "neispuo_roles": "neispuo",
        # Claims a hostile or confused provider might send; the helpdesk must ignore them.
        "is_superuser": "neispuo",
        "is_staff": "neispuo",
        "groups": "neispuo",
    }

    def get_additional_claims(self, request):
        person = load_people().get(request.user.get_username(), {})
        return {key: value for key, value in person.items() if key != "password"}
