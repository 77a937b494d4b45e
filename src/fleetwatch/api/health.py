"""``GET /api/v1/health/``: is Fleetwatch up, and can it reach its time-series store?

Public on purpose (load balancers and uptime checks call it without credentials), so it
says only the backend's name and whether it answers: no address, version or error text.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch.core.errors import RETRY_AFTER_SECONDS
from fleetwatch.core.timeseries import get_backend

HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "timeseries": {
            "type": "object",
            "properties": {"backend": {"type": "string"}, "reachable": {"type": "boolean"}},
            "required": ["backend", "reachable"],
        },
    },
    "required": ["status", "timeseries"],
}


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        auth=[],
        responses={
            200: OpenApiResponse(HEALTH, description="Up, and the time-series store answers."),
            503: OpenApiResponse(
                HEALTH, description="Degraded: the time-series store does not answer (with Retry-After)."
            ),
        },
    )
    def get(self, request):
        health = get_backend().health()
        reachable = bool(health["reachable"])
        body = {
            "status": "ok" if reachable else "degraded",
            "timeseries": {"backend": health["backend"], "reachable": reachable},
        }
        if reachable:
            return Response(body)
        return Response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
