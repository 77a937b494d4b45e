"""The collector's answers on a small population (``tests/usage/population.py``), computed by
hand, against the API's answers: exactly equal. Then CSV bytes, bad parameters and who may read."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from freezegun import freeze_time

from tests.usage.population import NOW, post_population

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", password="pw")


@pytest.fixture
def population(collector):
    """The population, posted (on the real clock: the throttle's timer ignores freezegun), then
    "today" frozen at 2026-04-15 for the answers."""
    post_population()
    with freeze_time(NOW):
        yield


@pytest.fixture
def api(root, population):
    client = Client()
    client.force_login(root)

    def get(path: str, **extra):
        return client.get(f"/api/v1/usage/{path}", **extra)

    return get


def week(start, end, **values) -> dict:
    return {"start": start, "end": end, "complete": True, **values}


def test_active_deployments_per_week(api):
    # Instances with an Install/Upgrade/Heartbeat in the week (opt-outs are not activity):
    #   W0 12-29..01-04: none                                   -> 0
    #   W1 01-05..01-11: A 01-05, B 01-06, C 01-07               -> 3
    #   W2 01-12..01-18: C 01-12, A 01-13, B 01-14, D 01-14      -> 4
    #   W3 01-19..01-25: A 01-20, B 01-21, D 01-21, E 01-22      -> 4
    #   W4 01-26..02-01: C 01-26, A 01-27, E 01-29               -> 3
    #   W5 02-02..02-08: A 02-02/03, F 02-02, D 02-04, C 02-05   -> 4
    #   W6 02-09..02-15: G 02-09/11, F 02-10                     -> 2
    #   W7 02-16..02-22: H 02-16 (C's opt-out 02-20 is none)     -> 1
    # Anonymous (OpenWISP) Heartbeats per day, an estimate:
    #   W0: 01-02 ×2, 01-03 ×2 = 4 over 7 days = 0.571… -> 0.57
    #   W1: 01-05, 01-06 = 2 over 7 days = 0.285… -> 0.29   (the anonymous Install is no Heartbeat)
    answer = api("active/?period=week&since=2025-12-29&until=2026-02-22")
    assert answer.status_code == 200
    assert answer.json() == {
        "period": "week",
        "since": "2025-12-29",
        "until": "2026-02-22",
        "today": "2026-04-15",
        "estimated": ["anonymous_per_day"],
        "periods": [
            week(
                "2025-12-29",
                "2026-01-04",
                instances=0,
                anonymous_heartbeats=4,
                days=7,
                anonymous_per_day=0.57,
            ),
            week(
                "2026-01-05",
                "2026-01-11",
                instances=3,
                anonymous_heartbeats=2,
                days=7,
                anonymous_per_day=0.29,
            ),
            week(
                "2026-01-12", "2026-01-18", instances=4, anonymous_heartbeats=0, days=7, anonymous_per_day=0.0
            ),
            week(
                "2026-01-19", "2026-01-25", instances=4, anonymous_heartbeats=0, days=7, anonymous_per_day=0.0
            ),
            week(
                "2026-01-26", "2026-02-01", instances=3, anonymous_heartbeats=0, days=7, anonymous_per_day=0.0
            ),
            week(
                "2026-02-02", "2026-02-08", instances=4, anonymous_heartbeats=0, days=7, anonymous_per_day=0.0
            ),
            week(
                "2026-02-09", "2026-02-15", instances=2, anonymous_heartbeats=0, days=7, anonymous_per_day=0.0
            ),
            week(
                "2026-02-16", "2026-02-22", instances=1, anonymous_heartbeats=0, days=7, anonymous_per_day=0.0
            ),
        ],
    }


def test_active_deployments_per_month_and_the_current_incomplete_week(api):
    # January: A, B, C, D, E -> 5; anonymous Heartbeats 01-02 ×2, 01-03 ×2, 01-05, 01-06 = 6
    # over 31 days = 0.193… -> 0.19. February: A, C, D, F, G, H -> 6 (C's and H's opt-outs
    # are no activity; H's Install is); none anonymous.
    months = api("active/?period=month&since=2026-01-20&until=2026-02-01").json()
    assert months["periods"] == [
        {
            "start": "2026-01-01",
            "end": "2026-01-31",
            "complete": True,
            "instances": 5,
            "anonymous_heartbeats": 6,
            "days": 31,
            "anonymous_per_day": 0.19,
        },
        {
            "start": "2026-02-01",
            "end": "2026-02-28",
            "complete": True,
            "instances": 6,
            "anonymous_heartbeats": 0,
            "days": 28,
            "anonymous_per_day": 0.0,
        },
    ]
    # The week of today (Wednesday 04-15): A's Heartbeat 04-14 -> 1; incomplete, 3 days counted.
    current = api("active/?since=2026-04-13").json()["periods"]
    assert current == [
        {
            "start": "2026-04-13",
            "end": "2026-04-19",
            "complete": False,
            "instances": 1,
            "anonymous_heartbeats": 0,
            "days": 3,
            "anonymous_per_day": 0.0,
        }
    ]


def test_installs_and_upgrades_per_week(api):
    # Installs (with or without an id): W1 A, B, C + OpenWISP's 01-05 = 4; W2 D = 1; W5 F = 1;
    # W6 G = 1; W7 H = 1; W12 (03-23..03-29) I = 1. Upgrades: W5 A 02-03, D 02-04 = 2.
    periods = api("installs/?since=2026-01-05&until=2026-02-22").json()["periods"]
    assert [(p["start"], p["installs"], p["upgrades"]) for p in periods] == [
        ("2026-01-05", 4, 0),
        ("2026-01-12", 1, 0),
        ("2026-01-19", 0, 0),
        ("2026-01-26", 0, 0),
        ("2026-02-02", 1, 2),
        ("2026-02-09", 1, 0),
        ("2026-02-16", 1, 0),
    ]
    assert api("installs/?since=2026-03-23&until=2026-03-29").json() == {
        "period": "week",
        "since": "2026-03-23",
        "until": "2026-03-29",
        "today": "2026-04-15",
        "periods": [week("2026-03-23", "2026-03-29", installs=1, upgrades=0)],
    }


def test_version_adoption_per_week(api):
    # The version of each active instance's latest report in the week:
    #   W0: no instance; anonymous Heartbeats 24.11.0 ×3, 25.0.0 ×1 -> 3/4 = 0.75, 1/4 = 0.25
    #   W1: A, B, C 1.0.0 -> 3/3 = 1.0
    #   W3: A, B, D 1.0.0, E 0.9.0 -> 1/4 = 0.25, 3/4 = 0.75
    #   W4: A, C 1.0.0, E 0.9.0 -> 1/3 = 0.3333, 2/3 = 0.6667
    #   W5: A Upgrade 02-03 1.1.0 (after its 1.0.0 Heartbeat 02-02), D Upgrade 1.1.0 (same day
    #       as its 1.0.0 Heartbeat: an Upgrade is the day's latest), F 1.1.0, C 1.0.0
    #       -> 1.0.0 1/4 = 0.25, 1.1.0 3/4 = 0.75
    #   W8 (02-23..03-01): nobody active, no anonymous Heartbeat -> no basis
    answer = api("adoption/?since=2025-12-29&until=2026-03-01").json()
    assert answer["versions"] == ["0.9.0", "1.0.0", "1.1.0", "24.11.0", "25.0.0"]
    rows = {
        p["start"]: (p["basis"], p["estimate"], p["total"], p["counts"], p["shares"])
        for p in answer["periods"]
    }
    assert rows == {
        "2025-12-29": ("heartbeats", True, 4, {"24.11.0": 3, "25.0.0": 1}, {"24.11.0": 0.75, "25.0.0": 0.25}),
        "2026-01-05": ("instances", False, 3, {"1.0.0": 3}, {"1.0.0": 1.0}),
        "2026-01-12": ("instances", False, 4, {"1.0.0": 4}, {"1.0.0": 1.0}),
        "2026-01-19": ("instances", False, 4, {"0.9.0": 1, "1.0.0": 3}, {"0.9.0": 0.25, "1.0.0": 0.75}),
        "2026-01-26": ("instances", False, 3, {"0.9.0": 1, "1.0.0": 2}, {"0.9.0": 0.3333, "1.0.0": 0.6667}),
        "2026-02-02": ("instances", False, 4, {"1.0.0": 1, "1.1.0": 3}, {"1.0.0": 0.25, "1.1.0": 0.75}),
        "2026-02-09": ("instances", False, 2, {"1.1.0": 2}, {"1.1.0": 1.0}),
        "2026-02-16": ("instances", False, 1, {"1.1.0": 1}, {"1.1.0": 1.0}),
        "2026-02-23": (None, False, 0, {}, {}),
    }


def test_shares_of_install_method_os_and_backend(api):
    # W5 (02-02..02-08): A pip/sqlite, C pip/postgresql, D ansible/sqlite, F docker/sqlite.
    # install_method: pip 2/4 = 0.5, ansible 1/4, docker 1/4 (ties by name).
    answer = api("shares/?dimension=install_method&day=2026-02-05").json()
    assert answer == {
        "dimension": "install_method",
        "period": "week",
        "start": "2026-02-02",
        "end": "2026-02-08",
        "complete": True,
        "today": "2026-04-15",
        "basis": "instances",
        "estimate": False,
        "total": 4,
        "shares": [
            {"value": "pip", "count": 2, "share": 0.5},
            {"value": "ansible", "count": 1, "share": 0.25},
            {"value": "docker", "count": 1, "share": 0.25},
        ],
    }
    backends = api("shares/?dimension=backend&day=2026-02-02").json()["shares"]
    assert backends == [
        {"value": "sqlite", "count": 3, "share": 0.75},
        {"value": "postgresql", "count": 1, "share": 0.25},
    ]
    # Default: the latest complete week before today's, W14 04-06..04-12: D alone (04-08).
    latest = api("shares/?dimension=os").json()
    assert (latest["start"], latest["shares"]) == (
        "2026-04-06",
        [{"value": "Debian GNU/Linux 12 (bookworm)", "count": 1, "share": 1.0}],
    )
    # W0 has no instance: the anonymous Heartbeats' shares, marked as an estimate; OpenWISP
    # sends no time-series backend ("").
    fallback = api("shares/?dimension=backend&day=2026-01-01").json()
    assert (fallback["basis"], fallback["estimate"], fallback["total"], fallback["shares"]) == (
        "heartbeats",
        True,
        4,
        [{"value": "", "count": 4, "share": 1.0}],
    )
    # January as a month: A, B, C, D, E -> pip 3 (A, C, E), docker 1, ansible 1.
    month = api("shares/?period=month&day=2026-01-31").json()["shares"]
    assert month == [
        {"value": "pip", "count": 3, "share": 0.6},
        {"value": "ansible", "count": 1, "share": 0.2},
        {"value": "docker", "count": 1, "share": 0.2},
    ]


def test_survival_by_install_cohort(api):
    # Today 04-15. Horizon = cohort day + 7·N days; at risk if horizon ≤ today and no opt-out
    # before the horizon; surviving if last active report ≥ horizon.
    # January cohort: A 01-05, B 01-06, C 01-07, D 01-14, E 01-22 (first report, no Install).
    #   4 weeks: horizons A 02-02, B 02-03, C 02-04, D 02-11, E 02-19, all ≤ 04-15; C's opt-out
    #     02-20 is after 02-04: at risk. At risk 5. Surviving: A (04-14), C (02-05), D (04-08);
    #     not B (01-21), E (01-29). 3/5 = 0.6.
    #   12 weeks: horizons A 03-30, B 03-31, C 04-01, D 04-08, E 04-16 (after today: not at risk);
    #     C opted out 02-20 < 04-01: censored. At risk A, B, D = 3. Surviving A (04-14 ≥ 03-30),
    #     D (04-08 ≥ 04-08, the boundary). 2/3 = 0.6667.
    #   26 and 52 weeks: horizons in July 2026 and later -> none at risk, no share.
    # February cohort: F 02-02, G 02-09, H 02-16.
    #   4 weeks: horizons F 03-02, G 03-09, H 03-16; H opted out 02-25 < 03-16: censored.
    #     At risk F, G = 2. Surviving F (03-03 ≥ 03-02). 1/2 = 0.5.
    #   12 weeks: F 04-27 > today: none at risk.
    # March cohort: I 03-25: 4 weeks -> 04-22 > today: none at risk.
    def none(weeks):
        return {"weeks": weeks, "at_risk": 0, "surviving": 0, "share": None}

    assert api("survival/").json() == {
        "today": "2026-04-15",
        "weeks": [4, 12, 26, 52],
        "cohorts": [
            {
                "cohort": "2026-01",
                "instances": 5,
                "withdrawn": 1,
                "survival": [
                    {"weeks": 4, "at_risk": 5, "surviving": 3, "share": 0.6},
                    {"weeks": 12, "at_risk": 3, "surviving": 2, "share": 0.6667},
                    none(26),
                    none(52),
                ],
            },
            {
                "cohort": "2026-02",
                "instances": 3,
                "withdrawn": 1,
                "survival": [
                    {"weeks": 4, "at_risk": 2, "surviving": 1, "share": 0.5},
                    none(12),
                    none(26),
                    none(52),
                ],
            },
            {
                "cohort": "2026-03",
                "instances": 1,
                "withdrawn": 0,
                "survival": [none(4), none(12), none(26), none(52)],
            },
        ],
    }
    # since/until choose cohort months.
    february = api("survival/?since=2026-02-10&until=2026-02-10").json()["cohorts"]
    assert [c["cohort"] for c in february] == ["2026-02"]


# --------------------------------------------------------------------------------- CSV
def test_the_survival_answer_as_csv_exact_bytes(api):
    for response in (api("survival/?format=csv"), api("survival/", HTTP_ACCEPT="text/csv")):
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == (
            "attachment; filename=\"usage-survival.csv\"; filename*=UTF-8''usage-survival.csv"
        )
        assert response.content == (
            b"cohort,instances,withdrawn,weeks,at_risk,surviving,share\r\n"
            b"2026-01,5,1,4,5,3,0.6\r\n"
            b"2026-01,5,1,12,3,2,0.6667\r\n"
            b"2026-01,5,1,26,0,0,\r\n"
            b"2026-01,5,1,52,0,0,\r\n"
            b"2026-02,3,1,4,2,1,0.5\r\n"
            b"2026-02,3,1,12,0,0,\r\n"
            b"2026-02,3,1,26,0,0,\r\n"
            b"2026-02,3,1,52,0,0,\r\n"
            b"2026-03,1,0,4,0,0,\r\n"
            b"2026-03,1,0,12,0,0,\r\n"
            b"2026-03,1,0,26,0,0,\r\n"
            b"2026-03,1,0,52,0,0,\r\n"
        )


def test_every_answer_has_its_csv(api):
    expected = {
        "active/?since=2025-12-29&until=2026-01-04": (
            b"start,end,complete,instances,anonymous_heartbeats,days,anonymous_per_day_estimate\r\n"
            b"2025-12-29,2026-01-04,true,0,4,7,0.57\r\n"
        ),
        "installs/?since=2026-02-02&until=2026-02-02": (
            b"start,end,complete,installs,upgrades\r\n2026-02-02,2026-02-08,true,1,2\r\n"
        ),
        "adoption/?since=2025-12-29&until=2026-01-05": (
            b"start,end,complete,basis,estimate,version,count,share\r\n"
            b"2025-12-29,2026-01-04,true,heartbeats,true,24.11.0,3,0.75\r\n"
            b"2025-12-29,2026-01-04,true,heartbeats,true,25.0.0,1,0.25\r\n"
            b"2026-01-05,2026-01-11,true,instances,false,1.0.0,3,1.0\r\n"
        ),
        "shares/?dimension=backend&day=2026-02-02": (
            b"dimension,period,start,end,complete,basis,estimate,value,count,share\r\n"
            b"backend,week,2026-02-02,2026-02-08,true,instances,false,sqlite,3,0.75\r\n"
            b"backend,week,2026-02-02,2026-02-08,true,instances,false,postgresql,1,0.25\r\n"
        ),
    }
    for path, body in expected.items():
        response = api(path + "&format=csv")
        assert (path, response.status_code, response.content) == (path, 200, body)


# --------------------------------------------------------------------------------- bad parameters
BAD = {
    "active/?period=day": ("period", '"day" is not a valid choice.'),
    "active/?since=yesterday": (
        "since",
        "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
    ),
    "installs/?since=2026-02-01&until=2026-01-01": ("until", "Must not be before since."),
    "adoption/?since=1999-12-31": ("since", "Must not be before 2000-01-01."),
    "adoption/?since=2000-01-01&until=2020-01-01": ("until", "At most ten years after since."),
    "active/?period=month&until=9999-12-31": ("until", "Must not be after 2999-12-31."),
    "shares/?day=9999-12-31": ("day", "Must not be after 2999-12-31."),
    "active/?since=": ("since", "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."),
    "shares/?dimension=cpu": ("dimension", '"cpu" is not a valid choice.'),
    "survival/?format=xml": ("format", '"xml" is not a valid choice.'),
}


@pytest.mark.parametrize(("path", "problem"), BAD.items(), ids=BAD.keys())
def test_a_bad_parameter_is_a_400_naming_it(api, path, problem):
    name, message = problem
    response = api(path)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"{name}: {message}", "errors": {name: [message]}},
    )


def test_a_bad_parameter_asked_as_csv_is_answered_as_json(api):
    response = api("active/?period=day", HTTP_ACCEPT="text/csv")
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")


# --------------------------------------------------------------------------------- who may read
PATHS = ["active/", "installs/", "adoption/", "shares/", "survival/"]


def test_only_superusers_read_the_answers(collector, root, alice):
    anonymous = Client()
    member = Client()
    member.force_login(alice)
    superuser = Client()
    superuser.force_login(root)
    for path in PATHS:
        url = f"/api/v1/usage/{path}"
        refused = anonymous.get(url)
        assert (refused.status_code, refused["WWW-Authenticate"]) == (401, "Token")
        assert member.get(url).status_code == 403
        assert member.get(url).json() == {
            "detail": "Only superusers may read the usage metrics of other deployments."
        }
        assert superuser.get(url).status_code == 200


def test_no_answer_when_this_server_is_no_collector(settings, root):
    settings.FLEETWATCH_USAGE_COLLECTOR = False
    client = Client()
    client.force_login(root)
    for path in PATHS:
        response = client.get(f"/api/v1/usage/{path}")
        assert (response.status_code, response.json()) == (
            404,
            {"detail": "This server is not a usage-metrics collector (FLEETWATCH_USAGE_COLLECTOR is off)."},
        )


# --------------------------------------------------------------------------------- the schema
def test_every_answer_is_as_the_openapi_schema_describes_it(api):
    """Each answer on the population validates against its 200 schema (exact properties, no
    others), as served at /api/v1/schema/."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(Client().get("/api/v1/schema/").content)
    for path in [
        "active/?since=2025-12-29&until=2026-02-22",
        "installs/?period=month&since=2026-01-01",
        "adoption/?since=2025-12-29&until=2026-03-01",
        "shares/?dimension=backend&day=2026-01-01",
        "survival/",
    ]:
        operation = schema["paths"][f"/api/v1/usage/{path.split('?')[0]}"]["get"]
        shape = operation["responses"]["200"]["content"]["application/json"]["schema"]
        # OpenAPI 3.0's "nullable" is JSON Schema's null type.
        jsonschema.validate(api(path).json(), _nullable(shape))


def _nullable(shape):
    if isinstance(shape, dict):
        shape = {k: _nullable(v) for k, v in shape.items()}
        if shape.pop("nullable", False):
            shape["type"] = [shape["type"], "null"]
        return shape
    if isinstance(shape, list):
        return [_nullable(item) for item in shape]
    return shape
