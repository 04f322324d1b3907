"""The second factor (TOTP, django-otp) for agents and administrators with local passwords.

Who owes a code: a session whose login was a password sent in a POST (the
login page, the admin's login page), for a person who is an agent or an
administrator, while HELPDESK_OTP_REQUIRED is on. Such a session is marked at
login (PASSWORD_LOGIN_KEY); until the person gives a valid code
(django_otp.login, which records the device in the session) the middleware
(accounts.middleware.SecondFactorMiddleware) lets it reach only the code
pages, logout and the language switch.

Not asked: edu.mon.bg (OIDC) logins, which rely on the provider; and sessions
made without a password form, such as the test client's force_login(), which
builds a request with no method. A person who becomes an agent during a
password session owes a code from their next request.
"""

import base64

import segno
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.utils.module_loading import import_string
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

# Session key: this session was started with a local password.
PASSWORD_LOGIN_KEY = "hd_password_login"
DEVICE_NAME = "authenticator"


def otp_required_for(user) -> bool:
    """True if `user` must give a TOTP code after a password login."""
    if not getattr(settings, "HELPDESK_OTP_REQUIRED", True):
        return False
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_superuser or user.is_staff or user.is_agent)


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_verified(request) -> bool:
    user = getattr(request, "user", None)
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def owes_code(request) -> bool:
    """True if this request's session was started with a password and still owes a code."""
    session = getattr(request, "session", None)
    if session is None or not session.get(PASSWORD_LOGIN_KEY):
        return False
    return otp_required_for(request.user) and not is_verified(request)


def _is_oidc(path: str) -> bool:
    try:
        return issubclass(import_string(path), OIDCAuthenticationBackend)
    except ImportError:
        return False


def mark_password_login(sender, request, user, **kwargs) -> None:
    """user_logged_in: mark sessions started by a password sent through a form."""
    if request is None or getattr(request, "method", None) != "POST":
        return
    backend = getattr(user, "backend", None) or request.session.get(BACKEND_SESSION_KEY, "")
    if backend and not _is_oidc(backend):
        request.session[PASSWORD_LOGIN_KEY] = True


# --------------------------------------------------------------------------- enrolment


def pending_device(user) -> TOTPDevice:
    """Return the person's unconfirmed device (a new secret the first time)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, as people type it into an app."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(uri: str) -> str:
    """An inline SVG QR code of `uri` (no script, no external image)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")


# --------------------------------------------------------------------------- WebSocket


def scope_owes_code(scope) -> bool:
    """owes_code() for a WebSocket scope (channels' session and user are in it)."""
    session = scope.get("session")
    user = scope.get("user")
    if session is None or user is None or not session.get(PASSWORD_LOGIN_KEY):
        return False
    if not otp_required_for(user):
        return False
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return device is None or device.user_id != user.pk


class SecondFactorWebSocketGuard:
    """ASGI middleware for the WebSocket routes, inside channels' AuthMiddlewareStack.

    A WebSocket does not pass through Django's middleware, so a password session
    that still owes its code would otherwise reach the live console. Wrap the
    URL router: AuthMiddlewareStack(SecondFactorWebSocketGuard(URLRouter(...))).
    Such a handshake is refused (the server answers 403).
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "websocket" and await database_sync_to_async(scope_owes_code)(
            scope
        ):
            message = await receive()
            if message.get("type") == "websocket.connect":
                await send({"type": "websocket.close", "code": 4403})
            return None
        return await self.inner(scope, receive, send)
