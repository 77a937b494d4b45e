"""The REST API's one error shape, for every status it answers with.

``{"detail": "<what went wrong>"}``, and for a request that failed validation (a body's fields,
a filter's query parameters) also ``"errors": {"<field>": ["<message>", …]}`` with every
problem, the first of them repeated in ``detail`` as ``"<field>: <message>"``.

- 400: malformed body (``fleetwatch.api.parsers``), invalid fields or query parameters
  (serializers, django-filter filtersets, ``fleetwatch.core.params``' ``BadRequest``).
- 403: not allowed (also without credentials: session authentication comes first).
- 404: no such row for this user.
- 409: the change conflicts with the stored rows (a uniqueness race the serializer could not
  see, a row still referenced): nothing was changed.
- 503 + ``Retry-After``: the database or the time-series store is unavailable.

Plain Django views under ``/api/`` (the agent endpoint, Django's own 404/500 handlers in
``fleetwatch.core.errors``) answer ``{"detail": …}`` the same way.
"""

from __future__ import annotations

import logging

from django.core.exceptions import BadRequest
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from fleetwatch.core.errors import RETRY_AFTER_SECONDS, unavailable_detail

log = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with the stored data; nothing was changed."
    default_code = "conflict"


class Unavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Service unavailable; retry later."
    default_code = "unavailable"
    wait = RETRY_AFTER_SECONDS  # DRF's handler turns it into Retry-After


def _first_message(errors) -> str:
    """The first message of a (possibly nested) ``ValidationError.detail``."""
    while isinstance(errors, dict | list) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors) if errors else "Invalid input."


def error_body(exc: exceptions.APIException, data) -> dict:
    """``{"detail": …}`` (plus ``"errors"`` for a validation error) from DRF's answer ``data``."""
    if isinstance(exc, exceptions.ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        field = next(iter(errors), None)
        message = _first_message(errors.get(field)) if field is not None else "Invalid input."
        detail = message if field in (None, "non_field_errors") else f"{field}: {message}"
        return {"detail": detail, "errors": errors}
    if isinstance(data, dict) and "detail" in data:
        return {"detail": str(data["detail"])}
    return {"detail": _first_message(data)}


def exception_handler(exc, context):
    """``REST_FRAMEWORK["EXCEPTION_HANDLER"]``: DRF's, with the shape and mapping above."""
    if isinstance(exc, BadRequest):  # an invalid query parameter (fleetwatch.core.params)
        exc = exceptions.ParseError(str(exc))
    elif isinstance(exc, IntegrityError | ProtectedError | RestrictedError):
        log.warning("answered 409: %s: %s", type(exc).__name__, exc)
        exc = Conflict()
    elif (detail := unavailable_detail(exc)) is not None:
        log.warning("answered 503: %s: %s", type(exc).__name__, exc)
        exc = Unavailable(detail)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = error_body(exc, response.data)
    return response
