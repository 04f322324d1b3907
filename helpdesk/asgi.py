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
from helpdesk.http_bridge import SyncHttpApp  # noqa: E402

# HTTP through Django's synchronous handler in a thread pool, one hop a request
# (helpdesk/http_bridge.py); HELPDESK_ASGI_HTTP=django keeps Django's ASGI handler.
http_app = django_asgi_app if os.environ.get("HELPDESK_ASGI_HTTP") == "django" else SyncHttpApp()

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(http_app),
        "websocket": AllowedHostsOriginValidator(
            # A password session that has not given its second factor opens no socket.
            AuthMiddlewareStack(SecondFactorWebSocketGuard(URLRouter(websocket_urlpatterns)))
        ),
    }
)
