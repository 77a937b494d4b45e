"""``GET/POST /query``: InfluxDB 1.x's query endpoint, answering the InfluxQL subset Grafana's InfluxDB
data source and InfluxDB clients send (docs/grafana.md), for the organization of a read token.

Parameters (query string, or the form body of a POST): ``q`` one or more statements separated
by ``;``, ``db`` (accepted, echoed by SHOW DATABASES: an organization has one database),
``epoch`` (``ns``, ``u``, ``µs``, ``ms``, ``s``, ``m``, ``h``; RFC 3339 strings without it), and the
token as ``p`` / ``Authorization`` (``fleetwatch.protocols.access``).

Answers, in InfluxDB's shapes:

* 200 ``{"results": [{"statement_id": 0, "series": [{"name", "tags", "columns", "values"}]}]}``;
  a statement without series is ``{"statement_id": i}``, one that fails
  ``{"statement_id": i, "error": "..."}`` (the others still answer);
* 400 ``{"error": "error parsing query: ..."}`` when any statement is outside the subset (nothing
  runs), ``{"error": "missing required parameter \\"q\\""}``, an unknown ``epoch``;
* 401/403 ``{"error": "..."}`` (token missing or invalid / without read scope);
* 405 for other methods; 503 ``{"error": ...}`` with ``Retry-After`` when the store is unavailable.
"""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from fleetwatch.openwisp import influxql
from fleetwatch.openwisp.client import ClientError
from fleetwatch.protocols.access import ProtocolAuthError, authenticate
from fleetwatch.protocols.influxql import OrganizationClient
from fleetwatch.timeseries import BackendUnavailable, TimeseriesError

log = logging.getLogger(__name__)

EPOCHS = ("ns", "n", "u", "µs", "ms", "s", "m", "h")
RETRY_AFTER = "5"


def error(status: int, message: str) -> JsonResponse:
    """InfluxDB's request-level error body."""
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
def query(request):
    """The view (see the module docstring)."""
    if request.method not in ("GET", "POST"):
        response = error(405, f"method {request.method} not allowed: use GET or POST")
        response["Allow"] = "GET, POST"
        return response
    try:
        token = authenticate(request, "read")
    except ProtocolAuthError as exc:
        return error(exc.status, exc.message)
    params = request.POST if request.method == "POST" else request.GET
    text = params.get("q") or request.GET.get("q")
    if not text or not text.strip():
        return error(400, 'missing required parameter "q"')
    epoch = params.get("epoch") or request.GET.get("epoch")
    if epoch and epoch not in EPOCHS:
        return error(400, f"unknown epoch {epoch!r}: use one of {', '.join(EPOCHS)}")
    database = params.get("db") or request.GET.get("db") or "fleetwatch"
    try:
        statements = [influxql.parse_statement(s) for s in influxql.split_statements(text)]
    except influxql.InfluxQLError as exc:
        return error(400, f"error parsing query: {exc}")
    if not statements:
        return error(400, "error parsing query: empty query")
    client = OrganizationClient(token.organization)
    precision = epoch or "rfc3339"
    results = []
    for number, statement in enumerate(statements):
        try:
            if isinstance(statement, influxql.Show):
                series = client.show(statement, database)
            else:
                series = client.select(statement, precision)
        except BackendUnavailable as exc:
            log.warning("/query: store unavailable: %s", exc)
            response = error(503, f"the time-series store is unavailable, retry later: {exc}")
            response["Retry-After"] = RETRY_AFTER
            return response
        except (ClientError, influxql.InfluxQLError, TimeseriesError) as exc:
            results.append({"statement_id": number, "error": str(exc)})
            continue
        results.append({"statement_id": number, "series": series} if series else {"statement_id": number})
    return JsonResponse({"results": results})
