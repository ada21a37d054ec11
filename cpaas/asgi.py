"""ASGI entry point: HTTP (Django) and websockets (Channels) in one process."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")

from django.conf import settings  # noqa: E402

if not settings.configured:  # this process is the web server (not a test importing the app)
    # PostgreSQL connections from a bounded pool: see DB_POOL in cpaas/settings/base.py
    os.environ.setdefault("DB_POOL", "true")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from cpaas.consumers import LiveConsumer  # noqa: E402

websocket_urlpatterns = [path("ws/live/", LiveConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
