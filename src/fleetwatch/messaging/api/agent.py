"""The HTTP channel of device agents, the Sensorgnome hub agent's way (``sensor-stations.md``
B.3): the device asks for work and gets at most one command in the answer; it posts the
command's result to a command log. The device key (``?key=``) is the only credential, as for
the monitoring endpoint.

- ``POST /api/v1/devices/<uuid>/agent/?key=&features=c`` (body optional: ``{"agent":
  "fleetwatch-agent/0.1.0", "next": 90}``) → ``200 {"cmd": {"seq", "action", "argument"}}``
  (the oldest pending command) or ``200 {}``;
- ``POST /api/v1/devices/<uuid>/cmdlog/?key=&seq=3&status=OK|ERR`` (body: the output, gzip
  with ``Content-Encoding: gzip``) → ``200 {"seq": 3, "status": "ok"}``.

Plain Django views, like the monitoring endpoint (no session, no token, no DRF negotiation);
the classes below document them in the OpenAPI schema (``schema_view``). A locked or unreachable
database is the middleware's 503 + Retry-After; nothing else may be a 5xx.
"""

from __future__ import annotations

import json
import re
import zlib

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from fleetwatch.messaging import commands
from fleetwatch.messaging.models import MAX_OUTPUT, Channel
from fleetwatch.monitoring.api.views import FEATURES, key_matches
from fleetwatch.monitoring.ingestion import reporting_device

# A result's body as sent (gzip or not): the output is kept to 1 MiB, twice that covers an
# agent that does not bound it exactly; larger is a 413, nothing read.
MAX_RESULT_BODY = 2 * 1024 * 1024
MAX_POLL_BODY = 64 * 1024
SEQ = re.compile(r"[0-9]{1,10}")
TAGS = ["agents"]


def _error(status: int, detail: str, **headers) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _device_or_error(request, pk):
    """``(device, None)`` for a POST with the device's key; ``(None, error response)`` else:
    405 for another method, 404 for no such active device, 403 for a wrong or missing key."""
    if request.method != "POST":
        return None, _error(405, f'Method "{request.method}" not allowed.', Allow="POST")
    device = reporting_device(pk)
    if device is None:
        return None, _error(404, "No such active device.")
    if not key_matches(device, request.GET.get("key")):
        return None, _error(403, "Wrong or missing device key.")
    return device, None


def features_of(request) -> str | None:
    """The ``features`` query parameter (letters, at most 16: ``c`` = remote commands enabled),
    None when absent; :class:`~fleetwatch.messaging.commands.CommandRefused` when malformed."""
    features = request.GET.get("features")
    if features is not None and not FEATURES.fullmatch(features):
        raise commands.CommandRefused("features: at most 16 letters, e.g. 'c'.", "features")
    return features


def read_body(request, limit: int) -> bytes | None:
    """The raw body, at most ``limit`` bytes as sent; None when it is larger (413)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    data = request.read(limit + 1)
    return None if len(data) > limit else data


def decoded_output(request, data: bytes) -> bytes:
    """The output of a result body: gunzipped with ``Content-Encoding: gzip`` (only its first
    :data:`MAX_OUTPUT` + 4 bytes are ever inflated: enough to bound it, and no more memory);
    :class:`CommandRefused` for another encoding or a broken stream."""
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding not in ("gzip", "x-gzip"):
        raise commands.CommandRefused(
            f"Content-Encoding {encoding!r} is not supported: send gzip or nothing."
        )
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header
    try:
        output = inflater.decompress(data, MAX_OUTPUT + 4)
    except zlib.error:
        raise commands.CommandRefused("The body is not valid gzip.") from None
    if not output and not inflater.eof and not inflater.unconsumed_tail:
        raise commands.CommandRefused("The body is not valid gzip.")
    return output


@csrf_exempt
def agent_poll(request, pk):
    """The agent asks for work: see the module's docstring and :class:`AgentPollView`."""
    device, error = _device_or_error(request, pk)
    if error is not None:
        return error
    try:
        features = features_of(request)
    except commands.CommandRefused as exc:
        return _error(400, str(exc))
    data = read_body(request, MAX_POLL_BODY)
    if data is None:
        return _error(413, f"The body is larger than {MAX_POLL_BODY} bytes.")
    agent = None
    if data.strip():
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            return _error(400, 'The body must be a JSON object, e.g. {"agent": "fleetwatch-agent/0.1.0"}.')
        if not isinstance(body, dict):
            return _error(400, 'The body must be a JSON object, e.g. {"agent": "fleetwatch-agent/0.1.0"}.')
        agent = body.get("agent")
        if agent is not None and not isinstance(agent, str):
            return _error(400, "agent: must be a string.")
        following = body.get("next")
        if following is not None and (
            not isinstance(following, int | float)
            or isinstance(following, bool)
            or not 0 <= following <= 10**7
        ):
            return _error(400, "next: must be a number of seconds (0 to 10000000).")
    return JsonResponse(commands.http_answer(device, features, agent))


@csrf_exempt
def command_result(request, pk):
    """A command's result from the agent: see the module's docstring and
    :class:`CommandResultView`."""
    device, error = _device_or_error(request, pk)
    if error is not None:
        return error
    seq = request.GET.get("seq", "")
    if not SEQ.fullmatch(seq):
        return _error(400, f"seq: a positive integer is required, not {seq!r}.")
    try:
        commands.parse_result_status(request.GET.get("status"))
    except commands.CommandRefused as exc:
        return _error(400, str(exc))
    data = read_body(request, MAX_RESULT_BODY)
    if data is None:
        return _error(413, f"The body is larger than {MAX_RESULT_BODY} bytes as sent; nothing was stored.")
    try:
        output = decoded_output(request, data)
        command, _ = commands.record_result(device, int(seq), request.GET["status"], output)
    except commands.CommandRefused as exc:
        return _error(400, str(exc))
    except commands.UnknownCommand as exc:
        return _error(404, str(exc))
    commands.note_contact(device, Channel.HTTP)
    return JsonResponse({"seq": command.seq, "status": command.status})


# --------------------------------------------------------------------------------- OpenAPI
ERROR = {"$ref": "#/components/schemas/Error"}
KEY = OpenApiParameter("key", str, required=True, description="The device's key.")
WIRE = {
    "type": "object",
    "properties": {
        "seq": {"type": "integer", "description": "The device's command number (run each at most once)."},
        "action": {"type": "string", "enum": ["exec", "reboot", "restart", "test", "logs"]},
        "argument": {"type": "string"},
    },
    "required": ["seq", "action", "argument"],
    "additionalProperties": False,
}
POLL_ANSWER = {
    "type": "object",
    "properties": {"cmd": WIRE},
    "additionalProperties": False,
    "description": "`{}`: nothing to do; else the oldest command not finished yet.",
}
COMMON_REFUSALS = {
    403: OpenApiResponse(ERROR, description="A wrong or missing key."),
    404: OpenApiResponse(ERROR, description="No such active device (or its organization is disabled)."),
    503: OpenApiResponse(
        ERROR, description="The database is unavailable; retry after `Retry-After` seconds."
    ),
}


class AgentPollView(APIView):
    """Documents :func:`agent_poll` (a plain view) in the OpenAPI schema."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="device_agent_poll",
        summary="An agent asks for a command (HTTP polling)",
        description="The hub agent's protocol (docs/commands.md). Records the contact (channel http, "
        "`features`, `agent`, last seen) and answers the oldest command not finished yet, marking it "
        "delivered; a delivered command is answered again until its result comes.",
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "agent": {"type": "string", "description": "The agent and its version."},
                    "next": {"type": "number", "description": "Seconds until the agent's next contact."},
                },
            }
        },
        parameters=[
            KEY,
            OpenApiParameter(
                "features", str, description="The agent's feature letters: `c` = it runs remote commands."
            ),
        ],
        responses={
            200: OpenApiResponse(POLL_ANSWER, description="A command, or `{}`."),
            400: OpenApiResponse(ERROR, description="A malformed body or `features`."),
            **COMMON_REFUSALS,
            413: OpenApiResponse(ERROR, description="A body larger than 64 KiB."),
        },
        examples=[OpenApiExample("Poll", value={"agent": "fleetwatch-agent/0.1.0"}, request_only=True)],
        tags=TAGS,
    )
    def post(self, request, pk):
        return agent_poll(request._request, pk)


class CommandResultView(APIView):
    """Documents :func:`command_result` (a plain view) in the OpenAPI schema."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="device_command_result",
        summary="An agent's result of a command (command log)",
        description="The body is the command's output (any bytes, UTF-8 expected; `Content-Encoding: "
        "gzip` accepted); its first 1 MiB is kept. The first result of a `seq` wins: a repeat answers "
        "the stored status and changes nothing.",
        request={"application/octet-stream": {"type": "string", "format": "binary"}},
        parameters=[
            KEY,
            OpenApiParameter("seq", int, required=True, description="The command's number."),
            OpenApiParameter("status", str, required=True, enum=["OK", "ERR"], description="How it ended."),
        ],
        responses={
            200: OpenApiResponse(
                {
                    "type": "object",
                    "properties": {
                        "seq": {"type": "integer"},
                        "status": {
                            "type": "string",
                            "enum": ["ok", "err", "expired", "cancelled"],
                            "description": "The command's stored status (the first result's).",
                        },
                    },
                    "required": ["seq", "status"],
                    "additionalProperties": False,
                },
                description="Stored (or stored before).",
            ),
            400: OpenApiResponse(ERROR, description="A bad `seq` or `status`, or a broken gzip body."),
            403: COMMON_REFUSALS[403],
            404: OpenApiResponse(ERROR, description="No such active device, or no command with this `seq`."),
            413: OpenApiResponse(ERROR, description="A body larger than 2 MiB as sent; nothing stored."),
            503: COMMON_REFUSALS[503],
        },
        tags=TAGS,
    )
    def post(self, request, pk):
        return command_result(request._request, pk)


agent_poll.schema_view = AgentPollView
command_result.schema_view = CommandResultView
