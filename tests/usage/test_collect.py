"""The collector's door, ``POST /api/v1/usage/collect/``: what is stored, exactly once, whatever
the order; what is refused, with nothing stored; and what is never kept (the request)."""

from __future__ import annotations

import io
import itertools
import json
from datetime import date

import pytest
from django.core import serializers
from django.test import Client
from freezegun import freeze_time

from fleetwatch.api.parsers import BodyTooLarge
from fleetwatch.usage import payload
from fleetwatch.usage.api.collect import MAX_BODY, UploadParser
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Report
from tests.usage.payloads import at, fleetwatch_upload, openwisp_upload

URL = "/api/v1/usage/collect/"
MONDAY = date(2026, 11, 23)
TUESDAY = date(2026, 11, 24)
ID = "4f0c8f51-57d5-4d55-9e0e-5b3c1f0d2a11"

pytestmark = pytest.mark.django_db


def post(body, client=None, **extra):
    client = client or Client()
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(URL, data, content_type=extra.pop("content_type", "application/json"), **extra)


def state() -> dict:
    """Every usage table, without ids: what two ingests in different orders must agree on."""
    return {
        "reports": sorted(
            (r.day, r.category, r.instance, r.digest, r.version, json.dumps(r.events))
            for r in Report.objects.all()
        ),
        "instances": sorted(
            Instance.objects.values_list(
                "instance", "product", "installed_on", "first_seen", "last_seen", "withdrawn_on"
            )
        ),
        "active": sorted(
            ActivePeriod.objects.values_list(
                "instance", "period", "start", "latest", "version", "os", "backend"
            )
        ),
        "tallies": sorted(
            DailyTally.objects.values_list(
                "day", "category", "anonymous", "version", "install_method", "count"
            )
        ),
    }


def test_a_heartbeat_of_ours_is_stored_with_its_snapshot(collector):
    answer = post(fleetwatch_upload(payload.HEARTBEAT, TUESDAY, version="1.2.0", backend="postgresql"))
    assert answer.status_code == 204
    assert answer.content == b""
    report = Report.objects.get()
    assert (report.day, report.category, report.instance, report.site) == (TUESDAY, "Heartbeat", ID, 1)
    assert (report.product, report.version, report.install_method, report.backend) == (
        "Fleetwatch",
        "1.2.0",
        "pip",
        "postgresql",
    )
    assert (report.os, report.kernel, report.platform) == (
        "Debian GNU/Linux 12 (bookworm)",
        "6.1.0",
        "x86_64",
    )
    assert report.events[0] == {"action": "Fleetwatch Version", "name": "1.2.0", "value": 1, "times": 1}
    assert [e["action"] for e in report.events] == [
        "Fleetwatch Version",
        "fleetwatch.backups",
        "os_version",
        "kernel_version",
        "hardware_platform",
        "Installation Method",
        "Time-series Backend",
        "Instance ID",
    ]
    assert list(Instance.objects.values_list("instance", "installed_on", "first_seen", "last_seen")) == [
        (ID, None, TUESDAY, TUESDAY)
    ]
    assert sorted(ActivePeriod.objects.values_list("period", "start", "version")) == [
        ("month", date(2026, 11, 1), "1.2.0"),
        ("week", MONDAY, "1.2.0"),
    ]
    assert list(DailyTally.objects.values_list("day", "category", "anonymous", "count")) == [
        (TUESDAY, "Heartbeat", False, 1)
    ]


def test_a_resend_and_the_same_content_later_that_day_are_stored_once(collector):
    upload = fleetwatch_upload(payload.HEARTBEAT, TUESDAY, hour=3)
    assert [post(upload).status_code for _ in range(3)] == [204, 204, 204]
    assert post(fleetwatch_upload(payload.HEARTBEAT, TUESDAY, hour=20)).status_code == 204
    assert Report.objects.count() == 1
    assert DailyTally.objects.get().count == 1
    # The next day is another report; so is other content the same day (an upgrade).
    post(fleetwatch_upload(payload.HEARTBEAT, date(2026, 11, 25)))
    post(fleetwatch_upload(payload.UPGRADE, TUESDAY, version="1.1.0"))
    assert Report.objects.count() == 3


def test_anonymous_uploads_are_one_per_resend_not_per_content(collector):
    """Without an instance id, two deployments with the same versions send the same content:
    only the repeated timestamps tell a re-send from a twin."""
    upload = openwisp_upload(payload.HEARTBEAT, TUESDAY, hour=3)
    post(upload)
    post(upload)
    post(openwisp_upload(payload.HEARTBEAT, TUESDAY, hour=4))  # a twin deployment
    assert Report.objects.count() == 2
    assert set(Report.objects.values_list("instance", "product", "version", "install_method")) == {
        ("", "OpenWISP", "24.11.0", "ansible-openwisp2")
    }
    assert list(DailyTally.objects.values_list("category", "anonymous", "count")) == [("Heartbeat", True, 2)]
    assert Instance.objects.count() == 0
    assert ActivePeriod.objects.count() == 0


UPLOADS = [
    fleetwatch_upload(payload.INSTALL, MONDAY, version="1.0.0", hour=9),
    fleetwatch_upload(payload.HEARTBEAT, MONDAY, version="1.0.0", hour=10),
    fleetwatch_upload(payload.UPGRADE, TUESDAY, version="1.1.0", hour=8),
    fleetwatch_upload(payload.HEARTBEAT, TUESDAY, version="1.0.0", hour=7),  # before the upgrade
    fleetwatch_upload(payload.HEARTBEAT, date(2026, 11, 30), version="1.1.0", method="docker"),
    openwisp_upload(payload.HEARTBEAT, TUESDAY),
]


@pytest.mark.parametrize("order", [(0, 1, 2, 3, 4, 5), (5, 4, 3, 2, 1, 0), (3, 0, 5, 2, 4, 1)])
def test_any_arrival_order_and_resends_give_the_same_tables(collector, order):
    for index in order:
        assert post(UPLOADS[index]).status_code == 204
    first = state()
    for index in itertools.chain(order, reversed(order)):  # agents retry: everything again
        post(UPLOADS[index])
    assert state() == first
    assert list(Instance.objects.values_list("installed_on", "first_seen", "last_seen")) == [
        (MONDAY, MONDAY, date(2026, 11, 30))
    ]
    # The week's snapshot is its latest report's: Tuesday's Upgrade outranks Tuesday's Heartbeat.
    assert ActivePeriod.objects.get(period="week", start=MONDAY).version == "1.1.0"
    assert ActivePeriod.objects.get(period="month", start=date(2026, 11, 1)).version == "1.1.0"
    assert ActivePeriod.objects.get(period="week", start=date(2026, 11, 30)).install_method == "docker"
    assert Report.objects.count() == 6


def test_one_upload_of_two_categories_is_two_reports(collector):
    both = fleetwatch_upload(payload.INSTALL, MONDAY)
    both["events"] += fleetwatch_upload(payload.HEARTBEAT, MONDAY)["events"]
    assert post(both).status_code == 204
    assert sorted(Report.objects.values_list("category", flat=True)) == ["Heartbeat", "Install"]


def test_consent_withdrawn_marks_the_instance(collector):
    post(fleetwatch_upload(payload.INSTALL, MONDAY))
    post(fleetwatch_upload(payload.CONSENT_WITHDRAWN, TUESDAY))
    report = Report.objects.get(category="Consent Withdrawn")
    assert report.events == [
        {"action": "Action", "name": "Opt-out", "value": 1, "times": 1},
        {"action": "Instance ID", "name": ID, "value": 1, "times": 1},
    ]
    assert list(Instance.objects.values_list("installed_on", "last_seen", "withdrawn_on")) == [
        (MONDAY, MONDAY, TUESDAY)
    ]
    assert ActivePeriod.objects.filter(start=TUESDAY).count() == 0  # an opt-out is no sign of life


def test_nothing_of_the_request_is_kept(collector):
    """No address, no header, no second: only the day and the upload's content."""
    upload = fleetwatch_upload(payload.HEARTBEAT, TUESDAY, hour=13)
    post(
        upload,
        REMOTE_ADDR="203.0.113.77",
        HTTP_USER_AGENT="probe-agent/9",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    stored = serializers.serialize(
        "json", [*Report.objects.all(), *Instance.objects.all(), *DailyTally.objects.all()]
    )
    stored += serializers.serialize("json", ActivePeriod.objects.all())
    for trace in ("203.0.113", "probe-agent", "198.51.100", str(at(TUESDAY, 13))):
        assert trace not in stored


# ------------------------------------------------------------------------------ refusals
def event(**changes) -> dict:
    item = payload.event("Heartbeat", "Fleetwatch Version", "1.0.0", at(TUESDAY))
    item.update(changes)
    return {key: value for key, value in item.items() if value is not ...}


BAD = [
    ("[1, 2]", "non_field_errors", 'Send a JSON object: {"idsite": …, "events": […]}.'),
    ({"events": [event()]}, "idsite", "This field is required."),
    ({"idsite": True, "events": [event()]}, "idsite", "A whole number is required."),
    ({"idsite": -1, "events": [event()]}, "idsite", "Must be between 0 and 2147483647."),
    ({"idsite": 1}, "events", "A non-empty list of events is required."),
    ({"idsite": 1, "events": []}, "events", "A non-empty list of events is required."),
    ({"idsite": 1, "events": {"category": "x"}}, "events", "A non-empty list of events is required."),
    ({"idsite": 1, "events": [event()] * 1001}, "events", "At most 1000 events in one upload."),
    ({"idsite": 1, "events": ["Heartbeat"]}, "events[0]", "An event is a JSON object."),
    ({"idsite": 1, "events": [event(category=...)]}, "events[0].category", "This field is required."),
    ({"idsite": 1, "events": [event(category="  ")]}, "events[0].category", "This field may not be blank."),
    ({"idsite": 1, "events": [event(category=7)]}, "events[0].category", "A string is required."),
    ({"idsite": 1, "events": [event(category="x" * 51)]}, "events[0].category", "At most 50 characters."),
    (
        {"idsite": 1, "events": [event(), event(action="")]},
        "events[1].action",
        "This field may not be blank.",
    ),
    ({"idsite": 1, "events": [event(name=["1.0"])]}, "events[0].name", "A string is required."),
    ({"idsite": 1, "events": [event(value="1")]}, "events[0].value", "A number is required."),
    ({"idsite": 1, "events": [event(times=-3)]}, "events[0].times", "Must be between 1 and 2147483647."),
    ({"idsite": 1, "events": [event(times=0)]}, "events[0].times", "Must be between 1 and 2147483647."),
    ({"idsite": 1, "events": [event(times=1.5)]}, "events[0].times", "A whole number is required."),
    ({"idsite": 1, "events": [event(period_start=...)]}, "events[0].period_start", "This field is required."),
    (
        {"idsite": 1, "events": [event(period_start=at(TUESDAY, 13), period_end=at(TUESDAY, 12))]},
        "events[0].period_end",
        "Must not be before period_start.",
    ),
    (
        {"idsite": 1, "events": [event(period_start=10**20)]},
        "events[0].period_start",
        f"Must be between 946684800 and {at(date(2026, 12, 2), 0)}.",
    ),
    (
        {
            "idsite": 1,
            "events": [event(action="Instance ID", name="a"), event(action="Instance ID", name="b")],
        },
        "events",
        "One 'Instance ID' per category, not 2.",
    ),
    (
        {"idsite": 1, "events": [event(action="Instance ID", name="x" * 65)]},
        "events",
        "An 'Instance ID' of 1 to 64 characters.",
    ),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_an_upload_that_can_never_be_accepted_is_a_400_and_nothing_is_stored(collector, body, field, message):
    with freeze_time("2026-12-01T00:00:00Z"):
        answer = post(body)
    assert answer.status_code == 400
    detail = message if field == "non_field_errors" else f"{field}: {message}"
    assert answer.json() == {"detail": detail, "errors": {field: [message]}}
    assert Report.objects.count() == DailyTally.objects.count() == Instance.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            "{",
            "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ('{"idsite": 1, "events": [NaN]}', "JSON parse error - NaN is not a number JSON allows"),
        (b"\xff\xfe", "JSON parse error - the body is not valid utf-8"),
    ],
)
def test_malformed_json_is_a_400(collector, body, detail):
    answer = post(body)
    assert (answer.status_code, answer.json()) == (400, {"detail": detail})
    assert Report.objects.count() == 0


def test_a_body_of_10_mb_is_a_413_and_is_not_read(collector):
    upload = fleetwatch_upload(payload.HEARTBEAT, TUESDAY)
    upload["padding"] = "x" * (10 * 1024 * 1024)
    answer = post(upload)
    assert answer.status_code == 413
    assert answer.json() == {"detail": f"The body is larger than {MAX_BODY} bytes; nothing was stored."}
    assert Report.objects.count() == 0


def test_a_chunked_body_above_the_limit_is_refused_as_it_is_read():
    with pytest.raises(BodyTooLarge):
        UploadParser().parse(io.BytesIO(b" " * (MAX_BODY + 1)), "application/json", {})


def test_a_form_is_a_415(collector):
    answer = post("idsite=1", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 415
    assert answer.json() == {
        "detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'
    }


def test_a_flood_from_one_address_is_a_429_and_other_addresses_go_on(collector):
    collector.FLEETWATCH_USAGE_COLLECT_RATE = "3/minute"
    uploads = [fleetwatch_upload(payload.HEARTBEAT, date(2026, 11, d)) for d in range(1, 6)]
    statuses = [post(u, REMOTE_ADDR="192.0.2.1").status_code for u in uploads]
    assert statuses == [204, 204, 204, 429, 429]
    flooded = post(uploads[4], REMOTE_ADDR="192.0.2.1")
    assert flooded.json()["detail"].startswith("Request was throttled. Expected available in ")
    assert 1 <= int(flooded["Retry-After"]) <= 60
    # A client-written X-Forwarded-For is no new source.
    assert post(uploads[4], REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429
    assert Report.objects.count() == 3
    assert post(uploads[4], REMOTE_ADDR="192.0.2.2").status_code == 204
    assert Report.objects.count() == 4


def test_a_server_that_is_no_collector_answers_404(settings):
    settings.FLEETWATCH_USAGE_COLLECTOR = False
    answer = post(fleetwatch_upload(payload.HEARTBEAT, TUESDAY))
    assert answer.status_code == 404
    assert answer.json() == {
        "detail": "This server is not a usage-metrics collector (FLEETWATCH_USAGE_COLLECTOR is off)."
    }
    assert Report.objects.count() == 0
