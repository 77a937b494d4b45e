"""``POST /api/v1/usage/collect/``: the collector's door for Clean Insights uploads (ours and
OpenWISP's), open to any deployment, without authentication.

Answers: 204 stored (or already stored: a re-send is acknowledged, not stored twice); 400 an
upload that can never be accepted, nothing written (``collector.ingest``); 413 a body above
:data:`MAX_BODY`; 415 not JSON; 429 more than ``FLEETWATCH_USAGE_COLLECT_RATE`` uploads from one
address (counted in the cache, never stored); 404 when this server is not a collector
(``FLEETWATCH_USAGE_COLLECTOR``). Nothing of the request is kept but the upload's content.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from fleetwatch.api.parsers import BoundedJSONParser, check_body_size
from fleetwatch.usage.collector import ingest

TAGS = ["usage"]
# An upload of ours is ~2 KB; OpenWISP's a little more. Room for a large aggregated one.
MAX_BODY = 256 * 1024
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "errors": {"type": "object", "additionalProperties": True}},
    "required": ["detail"],
}
NOT_A_COLLECTOR = "This server is not a usage-metrics collector (FLEETWATCH_USAGE_COLLECTOR is off)."


class UploadParser(BoundedJSONParser):
    limit = MAX_BODY


class PerSourceThrottle(SimpleRateThrottle):
    """``FLEETWATCH_USAGE_COLLECT_RATE`` uploads per source address (``REMOTE_ADDR`` only: a
    client-written ``X-Forwarded-For`` would let a flood pick a new source per request). The
    count lives in the cache (per server process with the default local-memory cache) and
    expires with its window; no address reaches the database."""

    scope = "usage-collect"

    def get_rate(self):
        return settings.FLEETWATCH_USAGE_COLLECT_RATE

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": request.META.get("REMOTE_ADDR", "")}


def collector_enabled() -> None:
    """Raise a 404 unless this server is a collector (``FLEETWATCH_USAGE_COLLECTOR``)."""
    if not settings.FLEETWATCH_USAGE_COLLECTOR:
        raise NotFound(NOT_A_COLLECTOR)


UPLOAD = inline_serializer(
    "CleanInsightsUpload",
    {
        "idsite": serializers.IntegerField(min_value=0),
        "events": serializers.ListField(
            child=inline_serializer(
                "CleanInsightsEvent",
                {
                    "category": serializers.CharField(max_length=ingest.MAX_CATEGORY),
                    "action": serializers.CharField(max_length=ingest.MAX_TEXT),
                    "name": serializers.CharField(
                        max_length=ingest.MAX_TEXT, required=False, allow_null=True
                    ),
                    "value": serializers.FloatField(required=False, allow_null=True),
                    "times": serializers.IntegerField(min_value=1, required=False, default=1),
                    "period_start": serializers.IntegerField(help_text="unix seconds"),
                    "period_end": serializers.IntegerField(help_text="unix seconds, ≥ period_start"),
                },
            ),
            min_length=1,
            max_length=ingest.MAX_EVENTS,
        ),
    },
)


class CollectView(APIView):
    """Accept one Clean Insights upload (see the module's docstring)."""

    authentication_classes: list = []  # any deployment may report; nothing identifies it
    permission_classes = [AllowAny]
    parser_classes = [UploadParser]
    throttle_classes = [PerSourceThrottle]

    def initial(self, request, *args, **kwargs):
        collector_enabled()  # before the throttle: a server that is no collector counts nothing
        super().initial(request, *args, **kwargs)
        check_body_size(request, MAX_BODY)

    @extend_schema(
        operation_id="usage_collect",
        summary="Report anonymous usage metrics (a Clean Insights upload)",
        description='The Clean Insights Matomo Proxy upload `{"idsite", "events": [...]}` that '
        "OpenWISP's metric collection and Fleetwatch's own sender post. A re-sent upload is "
        "acknowledged (204) and stored once. Only the UTC day of each event is kept.",
        request=UPLOAD,
        responses={
            204: OpenApiResponse(description="Stored (or stored before)."),
            400: OpenApiResponse(ERROR, description="Never acceptable: nothing stored."),
            404: OpenApiResponse(ERROR, description="This server is not a collector."),
            413: OpenApiResponse(ERROR, description=f"A body above {MAX_BODY} bytes: nothing stored."),
            429: OpenApiResponse(ERROR, description="Too many uploads from this address (Retry-After)."),
        },
        auth=[],
        tags=TAGS,
    )
    def post(self, request):
        try:
            groups = ingest.parse(request.data)
        except ingest.PayloadError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        ingest.store(groups)
        return Response(status=status.HTTP_204_NO_CONTENT)
