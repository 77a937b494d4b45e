"""The OpenAPI 3 schema of the REST API (drf-spectacular), served at ``/api/v1/schema/``.

Two hooks (``SPECTACULAR_SETTINGS``) complete what drf-spectacular finds by itself:

- :func:`add_plain_views`: plain Django views under ``/api/v1/`` (the agent endpoint, kept out
  of DRF on purpose) are invisible to drf-spectacular; each names a DRF view class whose
  methods carry the documentation in its ``schema_view`` attribute, and that class stands in
  for it. (An attribute, not an import: the apps build on this package, not the reverse.)
- :func:`add_error_responses`: every operation's error statuses, in the one error shape of
  ``fleetwatch.api.exceptions`` (component ``Error``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import EndpointEnumerator

ERROR = {
    "type": "object",
    "description": "Every error answer: `detail` says what went wrong; a failed validation also "
    "lists every problem by field in `errors` (the first one repeated in `detail`).",
    "properties": {
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": True,
            "description": "Field (or query parameter) → list of messages; nested for nested fields.",
        },
    },
    "required": ["detail"],
}

# Endpoints anyone may call (load balancers, API clients fetching the schema).
PUBLIC_PATHS = {"/api/v1/health/"}
# Operations that declare every status they answer themselves (plain views: none of DRF's).
SELF_DESCRIBED = {"device_report", "device_agent_poll", "device_command_result"}

ERROR_DESCRIPTIONS = {
    "400": "Not acceptable as sent (a malformed body, invalid fields or query parameters); "
    "nothing was written.",
    "401": "No credentials, or an unknown token (`WWW-Authenticate: Token`): log in or send "
    "`Authorization: Token <key>`.",
    "403": "Not allowed: authenticated, but not an administrator of the organization (or a "
    "wrong device key).",
    "404": "No such object for you (another organization's is not found either).",
    "409": "The change conflicts with the stored data; nothing was changed.",
    "503": "The database or the time-series store is unavailable; retry after `Retry-After` seconds.",
}
# Not the API's but the HTTP server's answer (gunicorn: a request line over 4094 bytes), an HTML
# page: an operation with query parameters can meet it.
URI_TOO_LONG = {
    "description": "The URL is longer than the HTTP server accepts (gunicorn's limit: 4094 bytes "
    "for the request line); its own page, not JSON.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}
RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
}


def _patterns(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def add_plain_views(endpoints, **kwargs):
    """``PREPROCESSING_HOOKS``: the plain views that name their documenting DRF class
    (``view.schema_view = SomeAPIView``) as endpoints, one per method that class has."""
    enumerator = EndpointEnumerator()
    for route, pattern in _patterns(get_resolver()):
        view_class = getattr(pattern.callback, "schema_view", None)
        if view_class is None:
            continue
        path = enumerator.get_path_from_regex(route)
        callback = view_class.as_view()
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if hasattr(view_class, method.lower()):
                endpoints.append((path, route, method, callback))
    return endpoints


def _error_statuses(path: str, method: str, operation: dict) -> list[str]:
    parameters = operation.get("parameters", [])
    statuses = []
    if "requestBody" in operation or any(p["in"] == "query" for p in parameters):
        statuses.append("400")
    if path not in PUBLIC_PATHS:
        statuses += ["401", "403"]
    if any(p["in"] == "path" for p in parameters):
        statuses.append("404")
    if method in ("post", "put", "patch", "delete"):
        statuses.append("409")
    statuses.append("503")
    return statuses


def add_error_responses(result, generator, request, public):
    """``POSTPROCESSING_HOOKS``: the ``Error`` component and, on every operation, the error
    statuses it can answer (those an operation declares itself are kept)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    reference = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if operation.get("operationId") in SELF_DESCRIBED:
                responses.setdefault("414", URI_TOO_LONG)
                continue
            for status in _error_statuses(path, method, operation):
                if status in responses:
                    continue
                responses[status] = {
                    "description": ERROR_DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": reference}},
                }
                if status == "503":
                    responses[status]["headers"] = RETRY_AFTER
            if any(p["in"] == "query" for p in operation.get("parameters", [])):
                responses.setdefault("414", URI_TOO_LONG)
    return result
