"""The collector's answers under ``/api/v1/usage/``: ``active/``, ``installs/``, ``adoption/``,
``shares/`` and ``survival/``, as JSON or CSV (``?format=csv`` or ``Accept: text/csv``).

Superusers only: anonymous 401 (``WWW-Authenticate: Token``), anyone else 403; 404 for everyone
when this server is not a collector (``FLEETWATCH_USAGE_COLLECTOR``). Query parameters are checked
first (:class:`AnswerQuery`): a bad one is a 400 in the API's one error shape, every problem by
parameter under ``errors``. The rules behind each number: :mod:`fleetwatch.usage.collector.answers`.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from fleetwatch.api.downloads import FixedNegotiation, attachment, wants_csv
from fleetwatch.usage.api.collect import ERROR, TAGS, collector_enabled
from fleetwatch.usage.collector import answers

EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)  # a period's end must stay a date (9999-12-31 + 6 days is none)
MAX_SPAN = timedelta(days=3660)  # ten years of weeks (523 rows) or months in one answer


class IsSuperuser(permissions.BasePermission):
    """Only superusers read the collector's answers (anonymous: 401 via the authenticators)."""

    message = "Only superusers may read the usage metrics of other deployments."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_superuser)


class AnswerQuery(serializers.Serializer):
    """The query parameters of every answer; each view reads those it documents. ``since`` and
    ``until`` (and ``day``): UTC days (``YYYY-MM-DD``) from 2000-01-01 to 2999-12-31, ``since`` ≤ ``until``, at most ten years
    apart; defaults: ``until`` today, ``since`` 26 weeks or 12 months before (the current period
    included)."""

    period = serializers.ChoiceField(choices=answers.PERIODS, default="week")
    since = serializers.DateField(required=False, input_formats=["iso-8601"])
    until = serializers.DateField(required=False, input_formats=["iso-8601"])
    day = serializers.DateField(required=False, input_formats=["iso-8601"])
    dimension = serializers.ChoiceField(choices=answers.DIMENSIONS, default="install_method")
    format = serializers.ChoiceField(choices=("json", "csv"), required=False)

    def validate(self, data):
        for name in ("since", "until", "day"):
            if name in data and data[name] < EARLIEST:
                raise ValidationError({name: [f"Must not be before {EARLIEST.isoformat()}."]})
            if name in data and data[name] > LATEST:
                raise ValidationError({name: [f"Must not be after {LATEST.isoformat()}."]})
        since, until = data.get("since"), data.get("until")
        if since and until:
            if since > until:
                raise ValidationError({"until": ["Must not be before since."]})
            if until - since > MAX_SPAN:
                raise ValidationError({"until": ["At most ten years after since."]})
        return data


def parse_query(params, today: date | None = None) -> dict:
    """The checked parameters of ``params`` (a QueryDict or dict), with the range's defaults
    filled in: ``{"period", "since", "until", "day", "dimension"}``. Raises DRF's
    ``ValidationError`` (``{parameter: [message]}``); the web pages use it too."""
    query = AnswerQuery(data={k: params.get(k) for k in params if k in AnswerQuery().fields})
    query.is_valid(raise_exception=True)
    data = dict(query.validated_data)
    today = today or answers.today_utc()
    data["until"] = data.get("until") or max(today, data.get("since") or today)
    data.setdefault("since", answers.default_since(data["until"], data["period"]))
    if data["until"] - data["since"] > MAX_SPAN:
        raise ValidationError({"since": ["At most ten years before until."]})
    data.setdefault("day", None)
    return data


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(columns: list[str], rows: list[list]) -> str:
    """A header line then one line per row (``\\r\\n`` ends, as Python's csv writes them);
    ``None`` is an empty field, booleans ``true``/``false``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(value) for value in row])
    return out.getvalue()


SPAN_COLUMNS = ["start", "end", "complete"]


def _span(row: dict) -> list:
    return [row["start"], row["end"], row["complete"]]


def active_csv(answer: dict) -> str:
    return to_csv(
        [*SPAN_COLUMNS, "instances", "anonymous_heartbeats", "days", "anonymous_per_day_estimate"],
        [
            [*_span(r), r["instances"], r["anonymous_heartbeats"], r["days"], r["anonymous_per_day"]]
            for r in answer["periods"]
        ],
    )


def installs_csv(answer: dict) -> str:
    return to_csv(
        [*SPAN_COLUMNS, "installs", "upgrades"],
        [[*_span(r), r["installs"], r["upgrades"]] for r in answer["periods"]],
    )


def adoption_csv(answer: dict) -> str:
    """One line per period and version answered (a period without data has none)."""
    return to_csv(
        [*SPAN_COLUMNS, "basis", "estimate", "version", "count", "share"],
        [
            [*_span(r), r["basis"], r["estimate"], version, count, r["shares"][version]]
            for r in answer["periods"]
            for version, count in r["counts"].items()
        ],
    )


def shares_csv(answer: dict) -> str:
    return to_csv(
        ["dimension", "period", "start", "end", "complete", "basis", "estimate", "value", "count", "share"],
        [
            [
                answer["dimension"],
                answer["period"],
                answer["start"],
                answer["end"],
                answer["complete"],
                answer["basis"],
                answer["estimate"],
                item["value"],
                item["count"],
                item["share"],
            ]
            for item in answer["shares"]
        ],
    )


def survival_csv(answer: dict) -> str:
    return to_csv(
        ["cohort", "instances", "withdrawn", "weeks", "at_risk", "surviving", "share"],
        [
            [
                c["cohort"],
                c["instances"],
                c["withdrawn"],
                s["weeks"],
                s["at_risk"],
                s["surviving"],
                s["share"],
            ]
            for c in answer["cohorts"]
            for s in c["survival"]
        ],
    )


# --------------------------------------------------------------------------- the views
def _param(name: str, kind, description: str, **extra) -> OpenApiParameter:
    return OpenApiParameter(name, kind, description=description, **extra)


PERIOD = _param("period", str, "`week` (from Monday, the default) or `month`.", enum=list(answers.PERIODS))
SINCE = _param(
    "since",
    OpenApiTypes.DATE,
    "First UTC day (`YYYY-MM-DD`), widened to its period's start. "
    "Default: 26 weeks or 12 months before `until`.",
)
UNTIL = _param("until", OpenApiTypes.DATE, "Last UTC day, widened to its period's end. Default: today.")
FORMAT = _param(
    "format",
    str,
    "`csv`: the answer as CSV (also with `Accept: text/csv`). Another value: 400.",
    enum=["json", "csv"],
)
REFUSALS = {
    400: OpenApiResponse(ERROR, description="A bad query parameter (named under `errors`)."),
    401: OpenApiResponse(ERROR, description="No credentials."),
    403: OpenApiResponse(ERROR, description="Not a superuser."),
    404: OpenApiResponse(ERROR, description="This server is not a collector."),
}
DATE = {"type": "string", "format": "date"}
INTEGER = {"type": "integer", "minimum": 0}
SHARE = {"type": "number", "minimum": 0, "maximum": 1, "nullable": True}


def _object(properties: dict) -> dict:
    """An object with exactly these properties, all present."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


SPAN = {"start": DATE, "end": DATE, "complete": {"type": "boolean"}}
HEADER = {
    "period": {"type": "string", "enum": list(answers.PERIODS)},
    "since": DATE,
    "until": DATE,
    "today": DATE,
}
BASIS = {"type": "string", "enum": ["instances", "heartbeats", None], "nullable": True}
ACTIVE_SHAPE = _object(
    {
        **HEADER,
        "estimated": {"type": "array", "items": {"type": "string"}},
        "periods": {
            "type": "array",
            "items": _object(
                {
                    **SPAN,
                    "instances": INTEGER,
                    "anonymous_heartbeats": INTEGER,
                    "days": INTEGER,
                    "anonymous_per_day": {"type": "number", "minimum": 0, "nullable": True},
                }
            ),
        },
    }
)
INSTALLS_SHAPE = _object(
    {
        **HEADER,
        "periods": {"type": "array", "items": _object({**SPAN, "installs": INTEGER, "upgrades": INTEGER})},
    }
)
ADOPTION_SHAPE = _object(
    {
        **HEADER,
        "versions": {"type": "array", "items": {"type": "string"}},
        "periods": {
            "type": "array",
            "items": _object(
                {
                    **SPAN,
                    "basis": BASIS,
                    "estimate": {"type": "boolean"},
                    "total": INTEGER,
                    "counts": {"type": "object", "additionalProperties": INTEGER},
                    "shares": {"type": "object", "additionalProperties": SHARE},
                }
            ),
        },
    }
)
SHARES_SHAPE = _object(
    {
        "dimension": {"type": "string", "enum": list(answers.DIMENSIONS)},
        "period": HEADER["period"],
        **SPAN,
        "today": DATE,
        "basis": BASIS,
        "estimate": {"type": "boolean"},
        "total": INTEGER,
        "shares": {
            "type": "array",
            "items": _object({"value": {"type": "string"}, "count": INTEGER, "share": SHARE}),
        },
    }
)
SURVIVAL_SHAPE = _object(
    {
        "today": DATE,
        "weeks": {"type": "array", "items": INTEGER},
        "cohorts": {
            "type": "array",
            "items": _object(
                {
                    "cohort": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                    "instances": INTEGER,
                    "withdrawn": INTEGER,
                    "survival": {
                        "type": "array",
                        "items": _object(
                            {"weeks": INTEGER, "at_risk": INTEGER, "surviving": INTEGER, "share": SHARE}
                        ),
                    },
                }
            ),
        },
    }
)


def described(operation: str, summary: str, description: str, parameters: list, shape: dict):
    return extend_schema(
        operation_id=operation,
        summary=summary,
        description=description,
        parameters=[*parameters, FORMAT],
        responses={
            (200, "application/json"): OpenApiResponse(shape, description="The answer."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="With `format=csv`."),
            **REFUSALS,
        },
        tags=TAGS,
    )


class AnswerView(APIView):
    """One answer: :meth:`answer` computes it from the checked query, :attr:`to_csv` writes it
    as CSV offered as ``usage-<name>.csv``."""

    permission_classes = [IsSuperuser]
    content_negotiation_class = FixedNegotiation
    name = ""
    to_csv = staticmethod(to_csv)

    def initial(self, request, *args, **kwargs):
        collector_enabled()  # not a collector: no such answers, for anyone
        super().initial(request, *args, **kwargs)

    def answer(self, query: dict) -> dict:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def get(self, request):
        query = parse_query(request.query_params)
        as_csv = wants_csv(request)
        answer = self.answer(query)
        if as_csv:
            response = HttpResponse(self.to_csv(answer), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = attachment(f"usage-{self.name}.csv")
            return response
        return Response(answer)


class ActiveView(AnswerView):
    name = "active"
    to_csv = staticmethod(active_csv)

    @described(
        "usage_active",
        "Active deployments per week or month",
        "`instances`: distinct instance ids with an Install, Upgrade or Heartbeat in the period "
        "(exact). `anonymous_per_day` (an estimate): Heartbeats without an instance id in the "
        "period / its `days` up to today.",
        [PERIOD, SINCE, UNTIL],
        ACTIVE_SHAPE,
    )
    def get(self, request):
        return super().get(request)

    def answer(self, query):
        return answers.active(query["period"], query["since"], query["until"])


class InstallsView(AnswerView):
    name = "installs"
    to_csv = staticmethod(installs_csv)

    @described(
        "usage_installs",
        "Installs and upgrades per week or month",
        "Install and Upgrade reports of the period's days, with or without an instance id.",
        [PERIOD, SINCE, UNTIL],
        INSTALLS_SHAPE,
    )
    def get(self, request):
        return super().get(request)

    def answer(self, query):
        return answers.installs(query["period"], query["since"], query["until"])


class AdoptionView(AnswerView):
    name = "adoption"
    to_csv = staticmethod(adoption_csv)

    @described(
        "usage_adoption",
        "Version adoption per week or month",
        "Per period, the share of active instances per version (their latest report in the "
        'period). Without active instances but with anonymous Heartbeats: `"basis": '
        '"heartbeats"`, shares of those (an estimate).',
        [PERIOD, SINCE, UNTIL],
        ADOPTION_SHAPE,
    )
    def get(self, request):
        return super().get(request)

    def answer(self, query):
        return answers.adoption(query["period"], query["since"], query["until"])


class SharesView(AnswerView):
    name = "shares"
    to_csv = staticmethod(shares_csv)

    @described(
        "usage_shares",
        "Install method, OS or time-series backend shares",
        "Among the active instances of one period (the one containing `day`; default the "
        "latest complete one); heartbeat fallback as for adoption.",
        [
            _param(
                "dimension",
                str,
                "`install_method` (the default), `os` or `backend`.",
                enum=list(answers.DIMENSIONS),
            ),
            PERIOD,
            _param("day", OpenApiTypes.DATE, "A UTC day of the period. Default: the latest complete period."),
        ],
        SHARES_SHAPE,
    )
    def get(self, request):
        return super().get(request)

    def answer(self, query):
        return answers.shares(query["dimension"], query["period"], query["day"])


class SurvivalView(AnswerView):
    name = "survival"
    to_csv = staticmethod(survival_csv)

    @described(
        "usage_survival",
        "Survival by install cohort (month)",
        "For 4, 12, 26 and 52 weeks: instances at risk (cohort day + 7·N days ≤ today, opt-outs "
        "before that day excluded), surviving (last report on or after that day), their share. "
        "`since`/`until` choose cohort months (default: all).",
        [SINCE, UNTIL],
        SURVIVAL_SHAPE,
    )
    def get(self, request):
        return super().get(request)

    def answer(self, query):
        explicit = self.request.query_params
        return answers.survival(
            query["since"] if "since" in explicit else None,
            query["until"] if "until" in explicit else None,
        )
