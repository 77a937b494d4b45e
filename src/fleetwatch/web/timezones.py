"""One time zone per user for every page: charts, problems, status history, notifications.

The zone of a request is, in order: a valid ``tz`` query parameter of a page (so a shared link
shows what its sender saw), the user's preference (``Preference.timezone``, set on the
preferences page), else ``settings.TIME_ZONE`` (UTC by default). The default is the server's
zone, not the browser's: a team comparing a chart with a notification, an e-mail, a webhook or a
log line sees the same times whoever looks, and the pages are rendered on the server.

``TimeZoneMiddleware`` activates that zone (``django.utils.timezone.activate``) so templates
render datetimes in it; the chart pages hand it to the chart API's ``timezone`` parameter.
API requests (``/api/``) are left alone: the API takes its zone from its own parameters.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.utils import timezone

from fleetwatch.core.errors import is_api


@cache
def zone_names() -> tuple[str, ...]:
    """The IANA zone names this system knows, sorted (``UTC`` included)."""
    return tuple(sorted(zoneinfo.available_timezones() | {"UTC"}))


def is_zone(name: str) -> bool:
    """Whether ``name`` is a zone name we accept (exact IANA spelling)."""
    return name in zone_names()


def preferred_zone(user) -> str:
    """The user's chosen zone, else ``settings.TIME_ZONE``."""
    from fleetwatch.notifications.models import Preference

    if user is not None and user.is_authenticated:
        chosen = Preference.objects.filter(user=user).values_list("timezone", flat=True).first()
        if chosen and is_zone(chosen):
            return chosen
    return settings.TIME_ZONE


def request_zone(request) -> str:
    """The zone a page is shown in: ``?tz=`` when valid, else the user's preference."""
    asked = request.GET.get("tz", "")
    if asked and is_zone(asked):
        return asked
    return preferred_zone(getattr(request, "user", None))


class TimeZoneMiddleware:
    """Activates the request's zone for pages (after AuthenticationMiddleware: it needs the user)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request):
            return self.get_response(request)
        name = request_zone(request)
        request.fleetwatch_timezone = name
        timezone.activate(zoneinfo.ZoneInfo(name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def time_zone(request) -> dict:
    """Context processor: ``time_zone`` (the page's zone) and ``time_zones`` (every name)."""
    return {
        "time_zone": getattr(request, "fleetwatch_timezone", settings.TIME_ZONE),
        "time_zones": zone_names,
    }
