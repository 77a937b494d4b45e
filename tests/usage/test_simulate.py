"""The simulator (``fleetwatch usage simulate``): what it sends is what the collector stores,
once, in-process and over HTTP alike; and the bulk loader writes the tables ingest would."""

from __future__ import annotations

import http.server
import io
import json
import re
import shlex
import shutil
import threading
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from bench.server import Server, free_port
from django.core import serializers
from django.core.management import call_command

from fleetwatch.usage import payload
from fleetwatch.usage.collector import bulk, ingest, simulate
from fleetwatch.usage.models import ActivePeriod, DailyTally, Instance, Report

END = date(2026, 11, 30)
MODELS = (Report, Instance, ActivePeriod, DailyTally)

pytestmark = pytest.mark.django_db


def population(seed: int = 7) -> simulate.Population:
    # Chosen to hold every category: installs, upgrades, heartbeats, opt-outs, anonymous ones.
    return simulate.Population(24, 75, seed=seed, anonymous_share=0.25, end=END)


def tables(documents: list[dict]) -> dict[str, list]:
    """Django's serialized rows (``dumpdata``'s JSON, decoded) per model, without primary keys,
    sorted: two databases holding the same facts give the same tables."""
    found: dict[str, list] = {}
    for row in documents:
        fields = row["fields"]
        if "events" in fields and isinstance(fields["events"], str):
            fields["events"] = json.loads(fields["events"])
        found.setdefault(row["model"], []).append(json.dumps(fields, sort_keys=True))
    return {model: sorted(rows) for model, rows in found.items()}


def stored_tables() -> dict[str, list]:
    documents = []
    for model in MODELS:
        documents += json.loads(serializers.serialize("json", model.objects.all()))
    return tables(documents)


def test_the_collector_holds_what_the_ledger_says():
    ledger = simulate.Ledger()
    summary = simulate.store(population(), ledger)

    assert set(ledger.reports()) == set(payload.CATEGORIES)
    assert Counter(Report.objects.values_list("category", flat=True)) == ledger.reports()
    assert summary.categories == ledger.reports()
    assert (summary.uploads, summary.stored, summary.duplicates) == (len(ledger.sent), len(ledger.sent), 0)
    assert Report.objects.filter(instance="").count() == sum(1 for row in ledger.sent if not row[2])
    assert {
        row.instance: {
            "product": row.product,
            "installed_on": row.installed_on,
            "first_seen": row.first_seen,
            "last_seen": row.last_seen,
            "withdrawn_on": row.withdrawn_on,
        }
        for row in Instance.objects.all()
    } == ledger.instances()
    assert {
        (row.instance, row.period, row.start): (
            row.product,
            row.version,
            row.install_method,
            row.os,
            row.backend,
        )
        for row in ActivePeriod.objects.all()
    } == ledger.active()
    assert (
        Counter(
            {
                (
                    t.day,
                    t.category,
                    t.anonymous,
                    t.product,
                    t.version,
                    t.install_method,
                    t.os,
                    t.backend,
                ): t.count
                for t in DailyTally.objects.all()
            }
        )
        == ledger.tallies()
    )
    # Upgrades happened, so more than one version was active; opt-outs were followed by silence.
    assert ActivePeriod.objects.values("version").distinct().count() > 2
    for row in Instance.objects.exclude(withdrawn_on=None):
        assert row.last_seen < row.withdrawn_on
        assert not Report.objects.filter(instance=row.instance, day__gt=row.withdrawn_on).exists()


def test_running_again_stores_nothing_twice():
    first = simulate.store(population())
    before = stored_tables()
    again = simulate.store(population())
    assert (again.uploads, again.stored, again.duplicates) == (first.uploads, 0, first.uploads)
    assert stored_tables() == before


def test_the_same_seed_sends_the_same_uploads():
    assert [u.body for u in population(7).uploads()] == [u.body for u in population(7).uploads()]
    assert [u.body for u in population(7).uploads()] != [u.body for u in population(8).uploads()]


def test_uploads_have_the_senders_shape():
    uploads = list(population().uploads())
    ours = next(u for u in uploads if u.deployment.instance and u.category == payload.HEARTBEAT)
    events = ours.body["events"]
    assert ours.body["idsite"] == simulate.FLEETWATCH_SITE
    assert {e["category"] for e in events} == {payload.HEARTBEAT}
    assert {(e["value"], e["times"], e["period_end"] - e["period_start"]) for e in events} == {(1, 1, 0)}
    actions = [e["action"] for e in events]
    assert actions[0] == payload.FLEETWATCH_VERSION
    assert actions[-6:] == [
        payload.OS_VERSION,
        payload.KERNEL_VERSION,
        payload.HARDWARE_PLATFORM,
        payload.INSTALLATION_METHOD,
        payload.TIMESERIES_BACKEND,
        payload.INSTANCE_ID,
    ]
    openwisp = next(u for u in uploads if not u.deployment.instance and u.category == payload.HEARTBEAT)
    assert openwisp.body["idsite"] == simulate.OPENWISP_SITE
    assert payload.OPENWISP_VERSION in [e["action"] for e in openwisp.body["events"]]
    assert payload.INSTANCE_ID not in [e["action"] for e in openwisp.body["events"]]
    opt_out = next(u for u in uploads if u.category == payload.CONSENT_WITHDRAWN and u.deployment.instance)
    assert [(e["action"], e["name"]) for e in opt_out.body["events"]] == [
        ("Action", "Opt-out"),
        (payload.INSTANCE_ID, opt_out.deployment.instance),
    ]
    # One upload a day per deployment: an Install or Upgrade takes that day's Heartbeat's place.
    per_day = Counter((u.day, u.deployment.instance or u.deployment.offset) for u in uploads)
    assert set(per_day.values()) == {1}


def test_the_bulk_loader_writes_the_tables_ingest_writes():
    uploads = [u.body for u in population().uploads()]
    for body in uploads:
        ingest.store(ingest.parse(body))
    expected = stored_tables()
    for model in MODELS:
        model.objects.all().delete()

    # In another order, with re-sends: the same tables.
    assert bulk.load(uploads[::-1] + uploads[:50], batch=100) == (len(uploads), 50)
    assert stored_tables() == expected
    with pytest.raises(bulk.NotEmpty):
        bulk.load(uploads[:1])


def test_the_bulk_loader_refuses_what_the_endpoint_refuses():
    bad = payload.upload(1, [payload.event("Heartbeat", "", "1.0", 1764460800)])
    with pytest.raises(ingest.PayloadError):
        bulk.load([next(population().uploads()).body, bad])
    assert not Report.objects.exists()


@pytest.fixture(scope="module")
def server():
    live = Server(port=free_port(range(18760, 18800)), log="gunicorn.log")
    for name in ("FLEETWATCH_DATABASE", "FLEETWATCH_TIMESERIES"):
        live.env.pop(name, None)
    live.env.update(FLEETWATCH_USAGE_COLLECTOR="true", FLEETWATCH_USAGE_COLLECT_RATE="100000/minute")
    live.start()
    yield live
    live.stop()
    shutil.rmtree(live.dir, ignore_errors=True)


def test_posting_to_a_live_collector_gives_the_tables_of_in_process(server):
    ledger = simulate.Ledger()
    sent = simulate.post(population(), server.url, concurrency=4, ledger=ledger)
    assert (sent.uploads, sent.retried) == (len(ledger.sent), 0)
    simulate.store(population())
    dump = server.manage(
        "dumpdata", "usage.Report", "usage.Instance", "usage.ActivePeriod", "usage.DailyTally"
    )
    assert tables(json.loads(dump)) == stored_tables()
    assert Counter(Report.objects.values_list("category", flat=True)) == ledger.reports()


class Answers(http.server.BaseHTTPRequestHandler):
    """429 with Retry-After: 7 to every second request, 204 to the others."""

    protocol_version = "HTTP/1.1"  # keep-alive
    seen: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, json.loads(body)["events"][0]["category"], self.client_address[1]))
        if len(self.seen) % 2 == 0:
            self.send_response(429)
            self.send_header("Retry-After", "7")
        else:
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_429_is_waited_out_and_sent_again_on_the_same_connection():
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    Answers.seen = []
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    waits = []
    uploads = list(population().uploads())[:3]
    try:
        summary = simulate.post(
            uploads, f"http://127.0.0.1:{receiver.server_port}", concurrency=1, wait=waits.append
        )
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert waits == [7.0, 7.0]
    assert (summary.uploads, summary.retried) == (3, 2)
    assert [path for path, *_ in Answers.seen] == ["/api/v1/usage/collect/"] * 5
    assert len({port for *_, port in Answers.seen}) == 1  # one kept-alive connection
    assert [category for _, category, _ in Answers.seen] == [uploads[0].category] + [
        uploads[1].category
    ] * 2 + [uploads[2].category] * 2


def test_a_collector_out_of_reach_stops_the_run():
    with pytest.raises(simulate.DeliveryError, match=r"^http://127\.0\.0\.1:1/api/v1/usage/collect/: "):
        simulate.post(population(), "http://127.0.0.1:1", concurrency=2)


DOC = Path(__file__).resolve().parents[2] / "docs" / "usage-collector.md"


def test_the_docs_example_prints_what_the_docs_show():
    section = DOC.read_text(encoding="utf-8").split("## Simulator", 1)[1].split("\n## ", 1)[0]
    (command,) = re.findall(r"```sh\n(.*?)\n```", section, flags=re.S)
    (shown,) = re.findall(r"```text\n(.*?)```", section, flags=re.S)
    words = shlex.split(command)
    assert words[:3] == ["fleetwatch", "usage", "simulate"]
    out = io.StringIO()
    call_command(*words[1:], stdout=out)
    assert out.getvalue() == shown
    again = io.StringIO()
    call_command(*words[1:], stdout=again)
    assert again.getvalue().splitlines()[-1] == "stored: 0 reports, 1504 already stored"


def test_the_command_refuses_a_last_day_in_the_future():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"^--end 2999-01-01 is after today"):
        call_command("usage", "simulate", "--instances", "1", "--days", "1", "--end", "2999-01-01")
    assert not Report.objects.exists()
