"""The REST API's exception handler: DRF's, plus Django's ``BadRequest`` (an invalid query
parameter, see ``fleetwatch.core.params``) as a 400 ``{"detail": …}``."""

from django.core.exceptions import BadRequest
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, BadRequest):
        exc = exceptions.ParseError(str(exc))
    return drf_exception_handler(exc, context)
