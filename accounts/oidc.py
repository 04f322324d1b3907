"""Login with official edu.mon.bg profiles through OpenID Connect.

The identity provider says who a person is (e-mail, name) and which roles they
hold at which institutions. This module decides whether that person may log in
and keeps their Memberships in step with the role claim. It never grants
anything else: agent profiles, administration access and delegations are
managed inside the helpdesk (docs/login.md).

The role claim (name in settings.OIDC_ROLES_CLAIM, "neispuo_roles" by default)
is a list of objects::

    "neispuo_roles": [
        {"institution": "2206409", "role": "director"},
        {"institution": "1600101", "role": "teacher"}
    ]

Pure helpers (parse_role_claim, plan_memberships, refusal_reason,
full_name_from_claims) take and return plain data; sync_memberships applies a
plan to the database; EduMonBackend and the views plug them into
mozilla-django-oidc.
"""

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from accounts.backends import load_user
from accounts.directory import has_rights, record_unknown_institutions
from accounts.models import AccountEvent, Institution, Membership, Role

logger = logging.getLogger(__name__)

# When one institution is claimed twice with different roles, the stronger
# role wins (a Membership holds one role per institution).
ROLE_STRENGTH = {
    Role.DIRECTOR: 5,
    Role.DEPUTY_DIRECTOR: 4,
    Role.ICT_LEAD: 3,
    Role.SECRETARY: 2,
    Role.TEACHER: 1,
}

# Attribute of the callback request that carries the reason a login was refused,
# from the backend (which has no response) to the view (which shows it).
REFUSAL_ATTRIBUTE = "oidc_refusal"
# Attribute of the callback request with the institution codes the login named
# and the directory lacks; the session key under which the page shows them.
UNKNOWN_ATTRIBUTE = "oidc_unknown_institutions"
UNKNOWN_SESSION_KEY = "oidc_unknown_institutions"


# --------------------------------------------------------------------------- settings

# Defaults of the optional settings, the same as in helpdesk/settings.py. They
# are applied here too, because the settings block exists only when OIDC_ENABLED
# was set in the environment, and tests switch OIDC on with settings overrides.
DEFAULTS: dict[str, object] = {
    "OIDC_ALLOWED_DOMAINS": ["edu.mon.bg"],
    "OIDC_ROLES_CLAIM": "neispuo_roles",
    "OIDC_SESSION_HOURS": 10,
    "OIDC_RP_SIGN_ALGO": "RS256",
    "OIDC_RP_SCOPES": "openid email profile neispuo",
    "OIDC_USE_PKCE": True,
    "OIDC_TIMEOUT": 10,
    "OIDC_STORE_ID_TOKEN": True,
    "OIDC_OP_LOGOUT_ENDPOINT": "",
    "OIDC_OP_LOGOUT_URL_METHOD": "accounts.oidc.provider_logout_url",
}


def oidc_setting(name: str, *default):
    """Return setting `name`: from settings, else DEFAULTS, else `default`.

    Raises ImproperlyConfigured (mozilla-django-oidc's) when none of them has it.
    """
    if hasattr(settings, name):
        return getattr(settings, name)
    if name in DEFAULTS:
        return DEFAULTS[name]
    return import_from_settings(name, *default)


def allowed_domains() -> tuple[str, ...]:
    """Return the e-mail domains whose profiles may log in, lower-cased."""
    domains = oidc_setting("OIDC_ALLOWED_DOMAINS") or DEFAULTS["OIDC_ALLOWED_DOMAINS"]
    return tuple(d.strip().lower().lstrip("@") for d in domains if d.strip())


def roles_claim_name() -> str:
    """Return the name of the claim that lists a person's roles."""
    return oidc_setting("OIDC_ROLES_CLAIM") or DEFAULTS["OIDC_ROLES_CLAIM"]


def session_seconds() -> int:
    """Return how long a session started through the provider lasts, in seconds."""
    return int(oidc_setting("OIDC_SESSION_HOURS")) * 3600


# --------------------------------------------------------------------------- pure core


@dataclass(frozen=True)
class ParsedRoles:
    """The role claim read into {institution code: role}, with what was skipped and why."""

    roles: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class MembershipPlan:
    """What to change so that a person's memberships match the claim.

    add: {code: role}; change: {code: (old role, new role)}; remove: {code: old
    role}; unknown: claimed codes no institution in the register has.
    """

    add: dict[str, str] = field(default_factory=dict)
    change: dict[str, tuple[str, str]] = field(default_factory=dict)
    remove: dict[str, str] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.add or self.change or self.remove)


def parse_role_claim(raw: object) -> ParsedRoles:
    """Return the roles found in the raw claim value (a list of {institution, role}).

    Entries that are not objects, lack an institution code made of digits or
    name a role the helpdesk does not know are skipped and listed in problems.
    """
    if raw is None:
        return ParsedRoles()
    if not isinstance(raw, list):
        return ParsedRoles(problems=(f"the claim is a {type(raw).__name__}, not a list",))
    roles: dict[str, str] = {}
    problems: list[str] = []
    for entry in raw:
        if not isinstance(entry, dict):
            problems.append(f"entry {entry!r} is not an object")
            continue
        code = str(entry.get("institution") or "").strip()
        role = str(entry.get("role") or "").strip().lower()
        if not code.isdigit() or len(code) > 7:
            problems.append(f"entry {entry!r} has no valid institution code")
            continue
        if role not in ROLE_STRENGTH:
            problems.append(f"entry {entry!r} has an unknown role")
            continue
        if code in roles and roles[code] != role:
            stronger = max(roles[code], role, key=ROLE_STRENGTH.__getitem__)
            problems.append(
                f"institution {code} claimed as {roles[code]} and {role}; kept {stronger}"
            )
            role = stronger
        roles[code] = role
    return ParsedRoles(roles=roles, problems=tuple(problems))


def plan_memberships(
    current: Mapping[str, str], claimed: Mapping[str, str], known_codes: Collection[str]
) -> MembershipPlan:
    """Return the changes that turn `current` into `claimed` ({code: role} both).

    Claimed codes outside `known_codes` are left out of the plan and reported as
    unknown; a membership at such an institution cannot exist, so nothing is lost.
    """
    known = {code: role for code, role in claimed.items() if code in known_codes}
    unknown = tuple(sorted(code for code in claimed if code not in known_codes))
    return MembershipPlan(
        add={code: role for code, role in known.items() if code not in current},
        change={
            code: (current[code], role)
            for code, role in known.items()
            if code in current and current[code] != role
        },
        remove={code: role for code, role in current.items() if code not in known},
        unknown=unknown,
    )


def email_domain_allowed(email: str, domains: Iterable[str]) -> bool:
    """Return True if `email` is a valid address whose domain is exactly one of `domains`."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        return False
    domain = email.rpartition("@")[2].lower()
    return domain in {d.lower() for d in domains}


def refusal_reason(claims: Mapping[str, object], domains: Iterable[str]) -> str | None:
    """Return why these claims may not log in (a message for the person), or None."""
    email = claims.get("email")
    domains = tuple(domains)
    if not isinstance(email, str) or not email.strip():
        return _("Your profile did not give an e-mail address, so you cannot be logged in.")
    if claims.get("email_verified") is False:
        return _("The e-mail address of your profile is not verified by the provider.")
    if not email_domain_allowed(email, domains):
        return _(
            "Only official profiles in %(domains)s may log in here; %(email)s is not one. "
            "Log in with your official profile, or use a local account if you have one."
        ) % {"domains": ", ".join(domains), "email": email.strip()}
    return None


def full_name_from_claims(claims: Mapping[str, object]) -> str:
    """Return the person's full name from the standard claims ('' if none), at most 150 chars."""
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get(k) for k in ("given_name", "middle_name", "family_name")]
        name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return " ".join(name.split())[:150]


# --------------------------------------------------------------------------- database


def sync_memberships(user, claims: Mapping[str, object]) -> MembershipPlan | None:
    """Make the user's memberships match the role claim; return the plan applied.

    Returns None and changes nothing when the claim is absent (a provider that
    did not send it says nothing about roles, which is not "no roles"). An
    empty list removes every membership. Delegations are never touched: they
    are lent inside the helpdesk and end by their own dates or by revocation.
    """
    claim = roles_claim_name()
    if claim not in claims:
        logger.warning("OIDC: no %s claim for %s; memberships left as they are", claim, user.email)
        return None
    parsed = parse_role_claim(claims[claim])
    for problem in parsed.problems:
        logger.warning("OIDC: %s of %s: %s", claim, user.email, problem)
    with transaction.atomic():
        rows = {
            m.institution.code: m
            for m in Membership.objects.select_for_update()
            .filter(user=user)
            .select_related("institution")
        }
        institutions = {i.code: i for i in Institution.objects.filter(code__in=list(parsed.roles))}
        plan = plan_memberships(
            {code: m.role for code, m in rows.items()}, parsed.roles, institutions.keys()
        )
        for code in plan.unknown:
            logger.warning("OIDC: %s claims unknown institution %s; ignored", user.email, code)
        # Shown to administrators (accounts.admin_import), not only logged.
        record_unknown_institutions(user, parsed.roles, plan.unknown)
        for code, role in plan.add.items():
            Membership.objects.create(user=user, institution=institutions[code], role=role)
            _record(user, institutions[code], "membership_added", {"role": role})
        for code, (old, new) in plan.change.items():
            row = rows[code]
            row.role = new
            row.save(update_fields=["role"])
            _record(user, row.institution, "membership_changed", {"from": old, "to": new})
        for code, old in plan.remove.items():
            row = rows[code]
            row.delete()
            _record(user, row.institution, "membership_removed", {"role": old})
    if not plan.is_empty:
        logger.info(
            "OIDC: memberships of %s: added %s, changed %s, removed %s",
            user.email,
            sorted(plan.add),
            sorted(plan.change),
            sorted(plan.remove),
        )
    return plan


def _record(user, institution, kind: str, detail: dict) -> None:
    # No actor: the change comes from the identity provider, not from a person here.
    AccountEvent.objects.create(
        actor=None,
        subject=user,
        institution=institution,
        kind=kind,
        detail={"person": user.email, "source": "oidc", **detail},
    )


# --------------------------------------------------------------------------- backend


class EduMonBackend(OIDCAuthenticationBackend):
    """Authenticate edu.mon.bg profiles; create people on first login; sync roles.

    Only the e-mail address, the name and the role claim are read. Nothing in
    the claims can make someone staff, superuser or agent.
    """

    get_settings = staticmethod(oidc_setting)

    def authenticate(self, request, **kwargs):
        try:
            return super().authenticate(request, **kwargs)
        except requests.RequestException as error:
            # Provider down or refusing the code: a message, not a server error.
            logger.error("OIDC: talking to the provider failed: %s", error)
            setattr(
                request,
                REFUSAL_ATTRIBUTE,
                str(_("The edu.mon.bg login service did not answer. Please try again later.")),
            )
            return None

    def _refuse(self, reason) -> None:
        request = getattr(self, "request", None)
        if request is not None:
            setattr(request, REFUSAL_ATTRIBUTE, str(reason))
        raise SuspiciousOperation(f"OIDC login refused: {reason}")

    def verify_claims(self, claims):
        reason = refusal_reason(claims, allowed_domains())
        if reason is not None:
            logger.warning(
                "OIDC: login refused for %r (sub %r): %s",
                claims.get("email"),
                claims.get("sub"),
                reason,
            )
            self._refuse(reason)
        return True

    def filter_users_by_claims(self, claims):
        email = str(claims.get("email") or "").strip()
        return (
            self.UserModel.objects.filter(email__iexact=email)
            if email
            else self.UserModel.objects.none()
        )

    def create_user(self, claims):
        email = str(claims["email"]).strip().lower()
        try:
            with transaction.atomic():
                # No usable password: this person logs in through the provider only.
                user = self.UserModel.objects.create_user(
                    email=email, full_name=full_name_from_claims(claims)
                )
                self._note_unknown(sync_memberships(user, claims))
        except IntegrityError:
            # A parallel first login created the person a moment ago.
            return self.update_user(self.UserModel.objects.get(email__iexact=email), claims)
        logger.info("OIDC: created %s on first login", email)
        return user

    def update_user(self, user, claims):
        if not user.is_active:
            logger.warning("OIDC: login refused for deactivated account %s", user.email)
            self._refuse(_("This account is deactivated. Contact the support desk."))
        name = full_name_from_claims(claims)
        if name and name != user.full_name:
            user.full_name = name
            user.save(update_fields=["full_name"])
        self._note_unknown(sync_memberships(user, claims))
        return user

    def _note_unknown(self, plan: MembershipPlan | None) -> None:
        # For CallbackView: tell the person when their institution is not loaded.
        request = getattr(self, "request", None)
        if request is not None and plan is not None and plan.unknown:
            setattr(request, UNKNOWN_ATTRIBUTE, plan.unknown)

    def get_user(self, user_id):
        # mozilla's get_user ignores is_active; a deactivated person must lose
        # an open session on the next request, as with the password login.
        return load_user(self, user_id)


# --------------------------------------------------------------------------- views


def is_oidc_session(request) -> bool:
    """Return True if the current session was started through the provider."""
    path = request.session.get(BACKEND_SESSION_KEY)
    if not path:
        return False
    try:
        return issubclass(import_string(path), OIDCAuthenticationBackend)
    except ImportError:
        return False


def provider_logout_url(request) -> str:
    """Return where to send someone who logs out (OIDC_OP_LOGOUT_URL_METHOD).

    For a session started through the provider, and when OIDC_OP_LOGOUT_ENDPOINT
    is set, that is the provider's end-session endpoint, so the edu.mon.bg
    session ends too; otherwise the helpdesk's own LOGOUT_REDIRECT_URL.
    """
    local = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL))
    endpoint = oidc_setting("OIDC_OP_LOGOUT_ENDPOINT")
    if not endpoint or not is_oidc_session(request):
        return local
    params = {"client_id": settings.OIDC_RP_CLIENT_ID, "post_logout_redirect_uri": local}
    id_token = request.session.get("oidc_id_token")
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}?{urlencode(params)}"


class AuthenticateView(OIDCAuthenticationRequestView):
    """Send the person to the provider's login page."""

    get_settings = staticmethod(oidc_setting)


class CallbackView(OIDCAuthenticationCallbackView):
    """Finish the login; on failure go back to the login page with the reason."""

    get_settings = staticmethod(oidc_setting)

    @property
    def failure_url(self):
        return reverse("accounts:login")

    def login_failure(self):
        reason = getattr(self.request, REFUSAL_ATTRIBUTE, None) or _(
            "Logging in with your edu.mon.bg profile did not succeed. Please try again."
        )
        messages.error(self.request, reason)
        return super().login_failure()

    def login_success(self):
        response = super().login_success()
        # Roles are read only at login, so a session from the provider ends at a
        # fixed time (not extended by activity): a role taken away there ends
        # here within a working day.
        self.request.session.set_expiry(timezone.now() + timedelta(seconds=session_seconds()))
        unknown = getattr(self.request, UNKNOWN_ATTRIBUTE, ())
        if unknown:
            self.request.session[UNKNOWN_SESSION_KEY] = list(unknown)
            if not has_rights(self.user):
                return redirect("oidc_unknown_institution")
            messages.warning(
                self.request,
                _(
                    "Your profile also names the institution code(s) %(codes)s, which the "
                    "helpdesk does not know yet; the administrators have been told."
                )
                % {"codes": ", ".join(unknown)},
            )
        return response


@login_required
def unknown_institution(request):
    """Say what to do to someone whose edu.mon.bg login named only unknown institutions."""
    codes = request.session.get(UNKNOWN_SESSION_KEY) or []
    known = set(Institution.objects.filter(code__in=codes).values_list("code", flat=True))
    codes = [code for code in codes if code not in known]
    if not codes or has_rights(request.user):
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/unknown_institution.html", {"codes": codes})


class LogoutView(OIDCLogoutView):
    """Log out here (POST) and, for provider sessions, at the provider too."""

    get_settings = staticmethod(oidc_setting)
