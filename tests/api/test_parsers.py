"""Request bodies no parser should choke on: every write endpoint under /api/v1/ answers 400 and
writes nothing, whatever the body (issue 11: never a 500).

The endpoints are discovered from the URL configuration, so a new one is covered (or the test
says what it needs to know about it)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core import serializers
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from fleetwatch.api.parsers import MAX_DEPTH
from fleetwatch.ingest.jsonrules import deeper_than
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.notifications.models import MaintenanceWindow, Notification, Preference, Webhook

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Dozens of tests create users; the default hasher would take most of their time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def usage_collector(settings):
    # The usage collector's door is open (404 otherwise), its per-address counts from zero.
    settings.FLEETWATCH_USAGE_COLLECTOR = True
    cache.clear()


# Plain Django views under /api/v1/, parsed by themselves (the agent endpoint, see ingestion;
# the agents' command poll and command log, see fleetwatch.messaging.api.agent).
NOT_DRF = {"device-monitoring", "device-agent", "device-cmdlog"}
# Actions that take no body: they ignore one, whatever it is.
BODY_LESS = {
    ("notification-read", "post"),
    ("notification-read-all", "post"),
    ("enrollment-approve", "post"),
    ("enrollment-reject", "post"),
    ("enrollment-token-revoke", "post"),
    ("organization-registration-secret", "post"),
    ("command-cancel", "post"),
}
WRITE_METHODS = ("post", "put", "patch")


def _patterns(resolver, prefix=""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def write_endpoints() -> list[tuple[str, str]]:
    """(URL name, method) of every DRF view under api/v1/ that accepts a request body."""
    found = set()
    for route, pattern in _patterns(get_resolver()):
        if not route.startswith("api/v1/"):
            continue
        view = pattern.callback
        cls = getattr(view, "cls", None)
        if cls is None:
            assert pattern.name in NOT_DRF, f"{route}: a plain Django view; add it to NOT_DRF or make it DRF"
            continue
        actions = getattr(view, "actions", None)
        methods = set(actions) if actions is not None else {m for m in WRITE_METHODS if hasattr(cls, m)}
        found.update((pattern.name, method) for method in methods & set(WRITE_METHODS))
    return sorted(found)


ENDPOINTS = write_endpoints()


def test_the_discovery_finds_every_known_write_endpoint():
    assert {
        ("device-list", "post"),
        ("device-detail", "put"),
        ("device-detail", "patch"),
        ("webhook-list", "post"),
        ("webhook-detail", "put"),
        ("webhook-detail", "patch"),
        ("maintenance-list", "post"),
        ("maintenance-detail", "put"),
        ("maintenance-detail", "patch"),
        ("notification-preferences", "put"),
        ("notification-preferences", "patch"),
        *BODY_LESS,
    } <= set(ENDPOINTS)


@pytest.fixture
def rows(alice, device_a):
    """One row behind every detail URL, keyed by the URL name's start (``backup-run`` before
    ``backup``: the longest that matches)."""
    from fleetwatch.backups.models import BackupJob, RunnerToken
    from fleetwatch.backups.runs import open_run
    from fleetwatch.inventory.models import Enrollment, EnrollmentToken
    from fleetwatch.monitoring.models import Iperf3Server, SshCredentials

    org = device_a.organization
    now = datetime.now(UTC)
    job = BackupJob.objects.create(organization=org, section="s1", type="dump")
    from fleetwatch.messaging.commands import queue

    token = EnrollmentToken.issue(org, "stations")[0]
    return {
        "command": queue(device_a, "test", "", alice),
        "organization": org,
        "enrollment-token": token,
        "enrollment": Enrollment.objects.create(organization=org, token=token, serial="SG-1", name="SG-1"),
        "backup-job": job,
        "backup-run": open_run(job)[0],  # ongoing: files and close accept bodies
        "backup-token": RunnerToken.issue(org, "dbprov")[0],
        "device": device_a,
        "webhook": Webhook.objects.create(organization=org, name="hook", url="http://127.0.0.1:9/"),
        "maintenance": MaintenanceWindow.objects.create(
            organization=org, start=now, end=now + timedelta(hours=1), reason="upgrade"
        ),
        "notification": Notification.objects.create(
            user=alice, organization=org, device=device_a, kind="problem", title="t", time=now
        ),
        "iperf3-server": Iperf3Server.objects.create(organization=org, host="127.0.0.1", port=5201),
        "ssh-credentials": SshCredentials.objects.create(device=device_a, username="root", password="pw"),
    }


def url_of(name, rows):
    pattern = next(p for _r, p in _patterns(get_resolver()) if p.name == name)
    if "pk" not in pattern.pattern.regex.groupindex:
        return reverse(name)
    kind = max((k for k in rows if name.startswith(f"{k}-")), key=len, default=None)
    assert kind in rows, f"{name}: add a row of this kind to the rows fixture"
    return reverse(name, kwargs={"pk": rows[kind].pk})


def snapshot() -> str:
    from fleetwatch.backups.models import BackupFile, BackupJob, BackupRun, RunnerToken
    from fleetwatch.inventory.models import Enrollment, EnrollmentToken
    from fleetwatch.monitoring.models import Iperf3Server, SshCredentials

    models = (
        Enrollment,
        EnrollmentToken,
        Organization,
        Device,
        Webhook,
        MaintenanceWindow,
        Preference,
        Notification,
        BackupJob,
        BackupRun,
        BackupFile,
        RunnerToken,
        Iperf3Server,
        SshCredentials,
    )
    return "".join(serializers.serialize("json", model.objects.order_by("pk")) for model in models)


TOO_DEEP = {"detail": f"JSON parse error - nested deeper than {MAX_DEPTH} levels"}
BODIES = {
    "5000 nested arrays": ("[" * 5000 + "]" * 5000, TOO_DEEP),
    "5000 nested objects": ('{"a":' * 5000 + "1" + "}" * 5000, TOO_DEEP),
    # Parses, but the ORM would recurse through it as a lookup value.
    "500 nested arrays in a field": (
        '{"organization": ' + "[" * 500 + "]" * 500 + "}",
        TOO_DEEP,
    ),
    "NaN": ('{"name": NaN}', {"detail": "JSON parse error - NaN is not a number JSON allows"}),
    "-Infinity": (
        '{"name": -Infinity}',
        {"detail": "JSON parse error - -Infinity is not a number JSON allows"},
    ),
    "1e400": ('{"name": 1e400}', {"detail": "JSON parse error - 1e400 is not a finite number"}),
    "truncated": (
        '{"name": "x"',
        {"detail": "JSON parse error - Expecting ',' delimiter: line 1 column 13 (char 12)"},
    ),
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize(("name", "method"), ENDPOINTS, ids=[f"{m.upper()} {n}" for n, m in ENDPOINTS])
def test_a_body_that_cannot_be_parsed_is_400_and_writes_nothing(client, alice, rows, name, method, body):
    content, expected = body
    client.force_login(alice)
    before = snapshot()
    response = getattr(client, method)(url_of(name, rows), content, content_type="application/json")
    if (name, method) in BODY_LESS:
        assert response.status_code == 200  # never parsed
        return
    assert (response.status_code, response.json()) == (400, expected)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("content_type", "content", "expected"),
    [
        (
            "application/json; charset=punycode",
            b'{"name": "\xc3\xa9"}',
            "JSON parse error - the body is not valid punycode",
        ),
        (
            "application/json; charset=rot13",
            b"{}",
            "JSON parse error - 'rot13' is not a text encoding",
        ),
        (
            "application/x-www-form-urlencoded; charset=punycode",
            b"name=x",
            "Form parse error - the body is not valid punycode",
        ),
        (
            "multipart/form-data; boundary=x; charset=idna",
            b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\n\xc3\xa9\r\n--x--\r\n',
            "Multipart parse error - the body is not valid idna",
        ),
    ],
)
def test_a_body_its_charset_cannot_decode_is_400(client, alice, content_type, content, expected):
    client.force_login(alice)
    response = client.generic("POST", "/api/v1/inventory/devices/", content, content_type=content_type)
    assert (response.status_code, response.json()) == (400, {"detail": expected})
    assert not Device.objects.exists()


def test_a_valid_body_still_works(client, alice, orgs):
    client.force_login(alice)
    body = {"organization": str(orgs[0].pk), "name": "ap-new", "mac_address": "00:11:22:33:44:55"}
    response = client.post("/api/v1/inventory/devices/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    assert Device.objects.get().name == "ap-new"


def test_depth_is_counted_without_recursion():
    nested = current = []
    for _ in range(100_000):
        current.append([])
        current = current[0]
    assert deeper_than(nested)
    assert not deeper_than({"a": [{"b": [1, 2]}]}, limit=4)
    assert deeper_than({"a": [{"b": [1, 2]}]}, limit=3)
