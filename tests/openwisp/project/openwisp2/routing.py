from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application
from openwisp_controller.routing import get_routes

application = ProtocolTypeRouter(
    {
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(get_routes()))),
        "http": get_asgi_application(),
    }
)
