"""Enrollment over the REST API (docs/registration.md).

- ``POST /api/v1/enroll/``: a station or host enrolls itself with its organization's enrollment
  token (in the body, ``"token"``, or ``Authorization: Bearer fwe_…``) and its serial. 401
  without a token or with an unknown one; 403 for a revoked or expired token, a rejected
  enrollment or a deactivated device (``detail`` says which); 202 while an administrator has not
  approved it (``Retry-After``); 201 with a new device's credentials, 200 with the same ones
  again for a serial already enrolled. No session or user token counts here: the enrollment
  token is the only credential.
- ``/api/v1/enrollment-tokens/`` (list, create: the token is shown once, retrieve, ``revoke/``)
  and ``/api/v1/enrollments/`` (list, retrieve, ``approve/``, ``reject/``), for administrators
  of the organization only: a user who administers no organization gets 403, another
  organization's row is 404, a member of the row's organization 403.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch.api.fields import ScopedPrimaryKeyRelatedField
from fleetwatch.api.parsers import JSONParser
from fleetwatch.api.querysets import scoped
from fleetwatch.api.viewsets import UUID_LOOKUP
from fleetwatch.inventory import enrollment as lifecycle
from fleetwatch.inventory.models import (
    ENROLLMENT_TOKEN_PREFIX,
    Device,
    Enrollment,
    EnrollmentStatus,
    EnrollmentToken,
    Organization,
    administers,
)
from fleetwatch.notifications.links import base_url

TAGS = ["enrollment"]
# Seconds a pending device is told to wait before asking again.
PENDING_RETRY_AFTER = 60
ADMINS_ONLY = "Only an administrator of the organization may manage enrollments."


class Fact(serializers.CharField):
    """Text a device says of itself: stripped, blank allowed, no NUL (DRF) nor what no database
    stores (lone surrogates, ``"\\ud800"`` in JSON)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("invalid")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValidationError("Control characters are not allowed.")
        return value


class EnrollRequestSerializer(serializers.Serializer):
    """The body of ``POST /api/v1/enroll/``."""

    token = serializers.CharField(
        required=False, max_length=100, help_text="The enrollment token (`fwe_…`), unless sent as Bearer."
    )
    serial = Fact(
        max_length=64,
        allow_blank=False,
        required=True,
        help_text="What identifies the device in its organization (a station's id, a machine id).",
    )
    name = Fact(max_length=64, help_text="The device's name when it is made (default: the serial).")
    hardware_id = Fact(max_length=64)
    model = Fact(max_length=64)
    os = Fact(max_length=128)
    system = Fact(max_length=128)
    mac_address = Fact(max_length=17)
    agent = Fact(max_length=64, help_text='The agent and its version, e.g. "fleetwatch-agent/0.1.0".')

    def validate_mac_address(self, value):
        candidate = Device(mac_address=value)
        try:
            candidate.clean()
        except DjangoValidationError as exc:  # with the model's own message
            raise ValidationError(exc.message_dict["mac_address"]) from None
        return candidate.mac_address


ENROLLED = inline_serializer(
    "Enrolled",
    {
        "status": serializers.ChoiceField(choices=["approved"]),
        "device": inline_serializer(
            "EnrolledDevice",
            {
                "id": serializers.UUIDField(),
                "name": serializers.CharField(),
                "organization": serializers.UUIDField(),
            },
        ),
        "http": inline_serializer(
            "EnrolledHTTP", {"url": serializers.CharField(), "key": serializers.CharField()}
        ),
        "broker": inline_serializer(
            "EnrolledBroker",
            {
                "username": serializers.CharField(),
                "password": serializers.CharField(),
                "mqtt_url": serializers.CharField(),
                "amqp_url": serializers.CharField(),
                "vhost": serializers.CharField(),
            },
            allow_null=True,
        ),
    },
)
PENDING = inline_serializer(
    "EnrollmentPending",
    {"status": serializers.ChoiceField(choices=["pending"]), "detail": serializers.CharField()},
)
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "errors": {"type": "object", "additionalProperties": True}},
    "required": ["detail"],
}


def bearer(request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (another scheme: None)."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(header) == 2 and header[0].lower() == "bearer":
        return header[1]
    return None


def credentials(device: Device, request) -> dict:
    """The answer's credentials: the device key for HTTP, its broker account when device
    channels are configured (``null`` otherwise)."""
    from fleetwatch.messaging import broker

    channel = broker.account_of(device)
    body = {
        "status": "approved",
        "device": {"id": str(device.pk), "name": device.name, "organization": str(device.organization_id)},
        "http": {"url": base_url(request), "key": device.key},
        "broker": None,
    }
    if broker.enabled():
        where = broker.endpoints()
        body["broker"] = {
            "username": channel.username,
            "password": channel.broker_password,
            "mqtt_url": where.mqtt_url,
            "amqp_url": where.amqp_url,
            "vhost": where.vhost,
        }
    return body


def unauthorized(detail: str) -> Response:
    return Response({"detail": detail}, status=401, headers={"WWW-Authenticate": 'Bearer realm="enroll"'})


class EnrollView(APIView):
    """A station or host enrolls itself (see the module's docstring)."""

    authentication_classes: list = []  # the enrollment token is checked below, nothing else
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="enroll",
        summary="A device enrolls itself with an enrollment token",
        description="The token in the body (`token`) or as `Authorization: Bearer fwe_…`. The same "
        "serial again gets the same device and credentials (200). `broker` is null when device "
        "channels (MQTT/AMQP) are not configured.",
        request=EnrollRequestSerializer,
        responses={
            200: OpenApiResponse(ENROLLED, description="Enrolled before: the same identity again."),
            201: OpenApiResponse(ENROLLED, description="Enrolled: a new device."),
            202: OpenApiResponse(PENDING, description="Awaiting an administrator's approval (Retry-After)."),
            400: OpenApiResponse(ERROR, description="Invalid body: nothing written."),
            401: OpenApiResponse(ERROR, description="No enrollment token, or an unknown one."),
            403: OpenApiResponse(
                ERROR,
                description="Token revoked or expired, organization deactivated, enrollment rejected or "
                "device deactivated (`detail` says which).",
            ),
        },
        auth=[],
        tags=TAGS,
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ValidationError({"non_field_errors": ["Send a JSON object."]})
        body = EnrollRequestSerializer(data=request.data)
        # The token first: without a valid one, nothing about the body is said.
        text = request.data.get("token")
        if text is not None and not isinstance(text, str):
            raise ValidationError({"token": ["Not a valid string."]})
        text = text or bearer(request)
        if not text:
            return unauthorized(
                f"An enrollment token is required: send it as `token` or `Authorization: Bearer "
                f"{ENROLLMENT_TOKEN_PREFIX}…`."
            )
        token = EnrollmentToken.objects.find(text)
        if token is None:
            return unauthorized("Unknown enrollment token.")
        now = timezone.now()
        refusal = token.refusal(now)
        if refusal is not None:
            return Response({"detail": refusal}, status=403)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data.pop("token", None)
        serial, name = data.pop("serial").strip(), data.pop("name", "").strip()
        facts = {k: v.strip() for k, v in data.items() if v.strip()}
        if request.META.get("REMOTE_ADDR"):
            facts["address"] = request.META["REMOTE_ADDR"]
        try:
            outcome = lifecycle.enroll(token, serial, name, facts, now)
        except lifecycle.EnrollmentRefused as exc:
            return Response({"detail": exc.detail}, status=403)
        if outcome.status == EnrollmentStatus.PENDING:
            return Response(
                {"status": "pending", "detail": lifecycle.PENDING},
                status=202,
                headers={"Retry-After": str(PENDING_RETRY_AFTER)},
            )
        return Response(credentials(outcome.device, request), status=201 if outcome.created else 200)


# --------------------------------------------------------------------------------- administrators
class EnrollmentAdmins(permissions.BasePermission):
    """Authenticated users who administer an organization; a row needs its organization's
    administrator. Rows of other organizations never reach this (404)."""

    message = ADMINS_ONLY

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return Organization.objects.manageable_by(user).exists()

    def has_object_permission(self, request, view, obj) -> bool:
        return administers(request.user, obj.organization_id)


class AdminViewSet(viewsets.GenericViewSet):
    """Rows of the organizations the user belongs to (so that a member's request is a 403, not
    a 404), administrators only (``EnrollmentAdmins``); lists show the administered ones."""

    permission_classes = [permissions.IsAuthenticated, EnrollmentAdmins]
    lookup_value_regex = UUID_LOOKUP
    ordering: tuple[str, ...] = ("pk",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator's request
            return self.queryset.none()
        scope = "manageable" if self.action == "list" else "visible"
        return scoped(self.queryset, self.request.user, scope).order_by(*self.ordering)


class TokenStatus:
    ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


class EnrollmentTokenSerializer(serializers.ModelSerializer):
    """An enrollment token as lists show it: its ``prefix``, never the token."""

    organization = ScopedPrimaryKeyRelatedField(queryset=Organization.objects.all())
    name = Fact(max_length=100, allow_blank=False, required=True)
    state = serializers.SerializerMethodField()

    class Meta:
        model = EnrollmentToken
        fields = [
            "id",
            "organization",
            "name",
            "prefix",
            "requires_approval",
            "expires",
            "revoked",
            "state",
            "created",
            "last_used",
        ]
        read_only_fields = ["id", "prefix", "revoked", "state", "created", "last_used"]

    @extend_schema_field({"type": "string", "enum": ["active", "expired", "revoked"]})
    def get_state(self, token) -> str:
        if token.revoked is not None:
            return TokenStatus.REVOKED
        if token.expires is not None and token.expires <= timezone.now():
            return TokenStatus.EXPIRED
        return TokenStatus.ACTIVE

    def validate_expires(self, value):
        if value is not None and value <= timezone.now():
            raise ValidationError("The expiry must be in the future.")
        return value


class IssuedEnrollmentTokenSerializer(EnrollmentTokenSerializer):
    """The answer to creating a token: the only time ``token`` is shown."""

    token = serializers.CharField(read_only=True)

    class Meta(EnrollmentTokenSerializer.Meta):
        fields = [*EnrollmentTokenSerializer.Meta.fields, "token"]
        read_only_fields = [*EnrollmentTokenSerializer.Meta.read_only_fields, "token"]


class EnrollmentTokenFilterSet(filters.FilterSet):
    """``organization=<uuid>``."""

    organization = filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = EnrollmentToken
        fields = ["organization"]


@extend_schema(tags=TAGS)
class EnrollmentTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, AdminViewSet
):
    """Enrollment tokens of the organizations the user administers. Creating one answers the
    token itself, the only time it is shown; ``revoke/`` ends it for good (idempotent)."""

    queryset = EnrollmentToken.objects.select_related("organization")
    serializer_class = EnrollmentTokenSerializer
    filterset_class = EnrollmentTokenFilterSet
    ordering = ("name", "pk")

    @extend_schema(responses={201: IssuedEnrollmentTokenSerializer})
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        organization = body.validated_data.pop("organization")
        if not administers(request.user, organization.pk):
            raise PermissionDenied("You are not an administrator of that organization.")
        row, token = EnrollmentToken.issue(organization, created_by=request.user, **body.validated_data)
        row.token = token
        return Response(
            IssuedEnrollmentTokenSerializer(row, context=self.get_serializer_context()).data, status=201
        )

    @extend_schema(request=None, responses={200: EnrollmentTokenSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        token = self.get_object()
        if token.revoked is None:
            token.revoked = timezone.now()
            token.save(update_fields=["revoked"])
        return Response(self.get_serializer(token).data)


class EnrollmentSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "organization",
            "token",
            "serial",
            "name",
            "facts",
            "status",
            "device",
            "created",
            "last_attempt",
            "decided",
            "decided_by",
        ]
        read_only_fields = fields


class EnrollmentFilterSet(filters.FilterSet):
    """``status=pending|approved|rejected``, ``organization=<uuid>``, ``serial=<exact>``."""

    organization = filters.UUIDFilter(field_name="organization_id")
    status = filters.ChoiceFilter(choices=EnrollmentStatus.choices)

    class Meta:
        model = Enrollment
        fields = ["status", "organization", "serial"]


@extend_schema(tags=TAGS)
class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, AdminViewSet):
    """Enrollment requests, newest first: ``approve/`` makes the device (idempotent), ``reject/``
    refuses the device's every later attempt (a pending one only)."""

    queryset = Enrollment.objects.select_related("organization", "decided_by")
    serializer_class = EnrollmentSerializer
    filterset_class = EnrollmentFilterSet
    ordering = ("-created", "pk")

    @extend_schema(request=None, responses={200: EnrollmentSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        from fleetwatch.messaging.broker import account_of

        enrollment = lifecycle.approve(self.get_object(), request.user, timezone.now())
        account_of(enrollment.device)
        return Response(self.get_serializer(enrollment).data)

    @extend_schema(
        request=None,
        responses={
            200: EnrollmentSerializer,
            400: OpenApiResponse(ERROR, description="Approved, with its device: not rejected."),
        },
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        try:
            enrollment = lifecycle.reject(self.get_object(), request.user, timezone.now())
        except ValueError as exc:
            raise ValidationError({"status": [str(exc)]}) from None
        return Response(self.get_serializer(enrollment).data, status=status.HTTP_200_OK)
