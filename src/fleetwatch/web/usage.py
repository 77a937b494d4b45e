"""The usage collector's page, ``/usage/``: what the collector answers (active deployments,
installs and upgrades, version adoption, shares, survival by install cohort), each as a chart
drawn with our own uPlot (``static/fleetwatch/usage.js``), a table of the same numbers under it,
and a link to the API's CSV of it.

The numbers are the API's (:mod:`fleetwatch.usage.collector.answers`, one call each), so page,
API and CSV agree. Superusers only: anonymous visitors go to the login, other users get the 403
page; 404 for everyone when this server is not a collector (``FLEETWATCH_USAGE_COLLECTOR``).
``?period=week|month&since=&until=`` and ``day`` (the shares' period; default the latest complete
one), checked as the API checks them: a bad one is a 400 page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from rest_framework.exceptions import ValidationError

from fleetwatch.core.params import InvalidParameter
from fleetwatch.usage.api.views import parse_query
from fleetwatch.usage.collector import answers


def collector_on() -> bool:
    """Whether this server is a usage collector (the nav link and the page exist)."""
    return bool(settings.FLEETWATCH_USAGE_COLLECTOR)


def _query(request) -> dict:
    try:
        return parse_query(request.GET)
    except ValidationError as exc:
        name, messages = next(iter(exc.detail.items()))
        raise InvalidParameter(name, str(messages[0])) from None


@login_required
def usage(request):
    """``/usage/``: the five answers for the chosen period and range."""
    if not collector_on():
        raise Http404("This server is not a usage-metrics collector.")
    if not request.user.is_superuser:
        raise PermissionDenied("Only superusers may read the usage metrics of other deployments.")
    query = _query(request)
    period, since, until = query["period"], query["since"], query["until"]
    data = {
        "active": answers.active(period, since, until),
        "installs": answers.installs(period, since, until),
        "adoption": answers.adoption(period, since, until),
        "shares": {name: answers.shares(name, period, query["day"]) for name in answers.DIMENSIONS},
        "survival": answers.survival(),
    }
    ranged = urlencode({"period": period, "since": since.isoformat(), "until": until.isoformat()})
    chosen = urlencode({"period": period, **({"day": query["day"].isoformat()} if query["day"] else {})})
    csv = {
        "active": f"/api/v1/usage/active/?{ranged}&format=csv",
        "installs": f"/api/v1/usage/installs/?{ranged}&format=csv",
        "adoption": f"/api/v1/usage/adoption/?{ranged}&format=csv",
        "survival": "/api/v1/usage/survival/?format=csv",
        **{
            f"shares_{name}": f"/api/v1/usage/shares/?dimension={name}&{chosen}&format=csv"
            for name in answers.DIMENSIONS
        },
    }
    adoption_rows = [
        (row, [row["shares"].get(version) for version in data["adoption"]["versions"]])
        for row in data["adoption"]["periods"]
    ]
    context = {
        "query": query,
        "periods": answers.PERIODS,
        "data": data,
        "csv": csv,
        "adoption_rows": adoption_rows,
        "dimensions": [
            (
                "install_method",
                "Install method",
                data["shares"]["install_method"],
                csv["shares_install_method"],
            ),
            ("os", "Operating system", data["shares"]["os"], csv["shares_os"]),
            ("backend", "Time-series backend", data["shares"]["backend"], csv["shares_backend"]),
        ],
    }
    return render(request, "web/usage/usage.html", context)
