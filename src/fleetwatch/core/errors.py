"""How a request that failed is answered: never a bare 500 for something the client can act on.

- Storage that is down or busy (the relational database: ``OperationalError`` such as
  "database is locked", ``InterfaceError``; the time-series store: ``BackendUnavailable``) is a
  **503 with Retry-After**, "keep it and retry", from ``StorageUnavailableMiddleware`` for
  failures in a view and from ``server_error`` for failures elsewhere (a session saved by a
  middleware).
- Under ``/api/`` every error is JSON ``{"detail": …}``; pages get an HTML page styled as the
  rest of the site (the web app's ``404.html``, ``403.html``, ``500.html`` and ``_error.html``,
  rendered without the request where the database may be the thing that failed).

The handlers are the URL configuration's ``handler400``/``handler403``/``handler404``/``handler500``.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import TemplateDoesNotExist, loader
from django.utils.html import escape
from django.views import defaults

from fleetwatch.core import instrumentation
from fleetwatch.core.params import InvalidParameter
from fleetwatch.timeseries import BackendUnavailable

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
RETRY_AFTER_SECONDS = 30
DATABASE_UNAVAILABLE = "The database is unavailable; retry later."
STORE_UNAVAILABLE = "The time-series store is unavailable; retry later."


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def unavailable_detail(exc: BaseException | None) -> str | None:
    """What to tell the client when ``exc`` means 'retry later', else None."""
    if isinstance(exc, OperationalError | InterfaceError):
        return DATABASE_UNAVAILABLE
    if isinstance(exc, BackendUnavailable):
        return STORE_UNAVAILABLE
    return None


def error_response(request: HttpRequest, status: int, title: str, detail: str) -> HttpResponse:
    if is_api(request):
        return JsonResponse({"detail": detail}, status=status)
    context = {"error_status": status, "error_title": title, "error_detail": detail}
    try:
        # No request: no context processor runs, so no database query (it may be what failed).
        return HttpResponse(loader.render_to_string("_error.html", context), status=status)
    except TemplateDoesNotExist:  # the web app is not installed
        pass
    page = (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1><p>{escape(detail)}</p></body></html>\n"
    )
    return HttpResponse(page, status=status)


def unavailable_response(request: HttpRequest, detail: str) -> HttpResponse:
    # Counted for GET /metrics (fleetwatch_store_errors_total): every 503 of a store goes here.
    instrumentation.store_error("database" if detail == DATABASE_UNAVAILABLE else "timeseries")
    response = error_response(request, 503, "Service unavailable", detail)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class StorageUnavailableMiddleware:
    """A view that failed because storage is down or busy answers 503 + Retry-After."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        detail = unavailable_detail(exception)
        if detail is None:
            return None
        log.warning(
            "%s %s answered 503: %s: %s", request.method, request.path, type(exception).__name__, exception
        )
        return unavailable_response(request, detail)


def bad_request(request, exception):
    # Only our own messages are shown; Django's (a bad Host header…) stay generic.
    detail = str(exception) if isinstance(exception, InvalidParameter) else "Bad request."
    return error_response(request, 400, "Bad request", detail)


def permission_denied(request, exception):
    if is_api(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Called while the exception is being handled, so it is still in sys.exc_info().
    detail = unavailable_detail(sys.exc_info()[1])
    if detail is not None:
        return unavailable_response(request, detail)
    if is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
