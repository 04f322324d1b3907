"""ASGI entry point: HTTP through Django, WebSocket through channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from accounts.second_factor import SecondFactorWebSocketGuard  # noqa: E402
from console.websocket_urls import websocket_urlpatterns  # noqa: E402
from helpdesk.body_limit import BodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            # A password session that has not given its second factor opens no socket.
            AuthMiddlewareStack(SecondFactorWebSocketGuard(URLRouter(websocket_urlpatterns)))
        ),
    }
)
