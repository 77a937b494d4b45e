"""A backup job's checks told through Fleetwatch's notifications, once per change: in-app
notifications per member, e-mail through a real SMTP server, Alertmanager webhooks to a real
receiver with their delivery log; organization-wide maintenance silences a problem and its
recovery; and the acceptance path: a failing dump closed as a failed run is CRITICAL at once with
one notification, and its recovery after a good run is told once."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

from fleetwatch.backups.checks import evaluate_all, evaluate_job, failed_result
from fleetwatch.backups.evaluation import CRITICAL, OK, WARNING, Result
from fleetwatch.backups.models import BackupJob, BackupRun, JobCheck
from fleetwatch.backups.notify import JobEvent
from fleetwatch.backups.runs import close_run, open_run
from fleetwatch.notifications.models import (
    MaintenanceWindow,
    Notification,
    Preference,
    Webhook,
    WebhookDelivery,
)

pytestmark = pytest.mark.django_db

GIB = 1024**3
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def job(orgs):
    return BackupJob.objects.create(organization=orgs[0], section="s1", type="dump", datacenter="eqiad")


def run(job, start, *, status="finished", size=10 * GIB, exit_status=None):
    opened, _ = open_run(
        job, start_date=start, source="db1001.eqiad.wmnet:3311", host="dbprov1001.eqiad.wmnet"
    )
    closed, _ = close_run(opened, status, end_date=start + HOUR, total_size=size, exit_status=exit_status)
    return closed


def told(user):
    """``[(kind, title)]`` of ``user``'s notifications, oldest first."""
    return list(Notification.objects.filter(user=user).order_by("time", "id").values_list("kind", "title"))


def evaluate(job, now, capture):
    with capture(execute=True):
        return evaluate_job(job, now)


def test_a_problem_is_told_once_to_every_member(job, alice, bob, charlie, django_capture_on_commit_callbacks):
    evaluate(job, NOW, django_capture_on_commit_callbacks)
    evaluate(job, NOW + HOUR, django_capture_on_commit_callbacks)  # still CRITICAL: not again
    assert told(alice) == [("problem", "dump of s1 in eqiad: CRITICAL")]
    assert told(bob) == [("problem", "dump of s1 in eqiad: CRITICAL")]
    assert told(charlie) == []
    notification = Notification.objects.get(user=alice)
    assert notification.message == "We could not find any completed dump for s1 at eqiad"
    assert notification.url == f"/backups/jobs/{job.pk}/"
    assert (notification.organization_id, notification.device_id, notification.time) == (
        job.organization_id,
        None,
        NOW,
    )
    assert JobCheck.objects.get(job=job, kind="freshness").notified is True


def test_a_job_that_is_ok_from_the_start_is_silent(job, alice, django_capture_on_commit_callbacks):
    run(job, NIGHT - DAY)
    run(job, NIGHT)
    evaluate(job, NOW, django_capture_on_commit_callbacks)
    assert told(alice) == []


def test_each_change_of_severity_is_told_once_then_the_recovery(
    job, alice, django_capture_on_commit_callbacks
):
    run(job, NIGHT - DAY)
    evaluate(job, NOW - DAY, django_capture_on_commit_callbacks)  # one run: WARNING
    run(job, NIGHT, size=7 * GIB)
    evaluate(job, NOW, django_capture_on_commit_callbacks)  # -30 %: CRITICAL
    evaluate(job, NOW + HOUR, django_capture_on_commit_callbacks)
    run(job, NIGHT + DAY, size=int(7.1 * GIB))
    evaluate(job, NOW + DAY, django_capture_on_commit_callbacks)  # +1.4 %: OK
    assert told(alice) == [
        ("problem", "dump of s1 in eqiad: WARNING"),
        ("problem", "dump of s1 in eqiad: CRITICAL"),
        ("recovery", "dump of s1 in eqiad: OK"),
    ]
    assert list(
        Notification.objects.filter(user=alice).order_by("time").values_list("message", flat=True)
    ) == [
        "There is only 1 dump for s1 at eqiad (db1001) taken on 2026-11-28 01:00:00 (10 GiB)",
        "Last dump for s1 at eqiad (db1001) taken on 2026-11-29 01:00:00 is 7 GiB, but the previous one was "
        "10 GiB, a change of -30.0 %",
        "Last dump for s1 at eqiad (db1001) taken on 2026-11-30 01:00:00 (7 GiB, +1.4 %)",
    ]


def test_other_checks_name_themselves(job, alice, django_capture_on_commit_callbacks):
    job.schedule = "daily"
    job.save()
    run(job, NIGHT - DAY)
    run(job, NIGHT)
    open_run(job, start_date=NOW - 13 * HOUR, source="db1001.eqiad.wmnet")
    evaluate(job, NOW, django_capture_on_commit_callbacks)
    assert told(alice) == [("problem", "dump of s1 in eqiad (long-running runs): WARNING")]
    evaluate(job, NOW + 3 * DAY, django_capture_on_commit_callbacks)  # A.4 allows 8 days, daily 2
    assert told(alice)[1:] == [("problem", "dump of s1 in eqiad (schedule): CRITICAL")]


def test_preferences_choose_the_channels(job, alice, bob, django_capture_on_commit_callbacks):
    Preference.objects.create(user=bob, web=False, email=True)
    evaluate(job, NOW, django_capture_on_commit_callbacks)
    assert len(told(alice)) == 1
    assert told(bob) == []


# ------------------------------------------------------------------ maintenance windows


def window(org, start, end, device=None):
    return MaintenanceWindow.objects.create(organization=org, device=device, start=start, end=end)


def test_a_problem_in_maintenance_and_its_recovery_are_not_told(
    job, orgs, alice, django_capture_on_commit_callbacks
):
    window(orgs[0], NOW - HOUR, NOW + 2 * DAY)
    evaluate(job, NOW, django_capture_on_commit_callbacks)  # CRITICAL, quiet
    run(job, NIGHT + DAY)
    run(job, NIGHT + DAY + 2 * HOUR)
    evaluate(job, NOW + DAY, django_capture_on_commit_callbacks)  # OK: its recovery is quiet too
    assert told(alice) == []
    assert JobCheck.objects.get(job=job, kind="freshness").status == 0


def test_a_problem_that_began_in_maintenance_stays_quiet_to_its_end(
    job, orgs, alice, django_capture_on_commit_callbacks
):
    window(orgs[0], NOW - HOUR, NOW + HOUR)
    run(job, NIGHT)
    evaluate(job, NOW, django_capture_on_commit_callbacks)  # WARNING, quiet
    run(job, NIGHT + 2 * HOUR, size=GIB)
    evaluate(job, NOW + 2 * HOUR, django_capture_on_commit_callbacks)  # CRITICAL after the window
    assert told(alice) == []


def test_a_recovery_in_maintenance_of_a_told_problem_is_told(
    job, orgs, alice, django_capture_on_commit_callbacks
):
    evaluate(job, NOW, django_capture_on_commit_callbacks)
    window(orgs[0], NOW + HOUR, NOW + 2 * DAY)
    run(job, NIGHT + DAY)
    run(job, NIGHT + DAY + 2 * HOUR)
    evaluate(job, NOW + DAY, django_capture_on_commit_callbacks)
    assert told(alice) == [
        ("problem", "dump of s1 in eqiad: CRITICAL"),
        ("recovery", "dump of s1 in eqiad: OK"),
    ]


def test_only_organization_wide_windows_of_the_jobs_organization_silence(
    job, orgs, alice, device_a, django_capture_on_commit_callbacks
):
    window(orgs[1], NOW - HOUR, NOW + HOUR)  # another organization's
    window(orgs[0], NOW - HOUR, NOW + HOUR, device=device_a)  # one device's
    window(orgs[0], NOW - 3 * HOUR, NOW - HOUR)  # over
    window(orgs[0], NOW + HOUR, NOW + 2 * HOUR)  # not begun
    evaluate(job, NOW, django_capture_on_commit_callbacks)
    assert told(alice) == [("problem", "dump of s1 in eqiad: CRITICAL")]


# ------------------------------------------------------------------ every channel, end to end


def test_e_mail_and_webhooks_carry_the_problem_and_its_recovery(
    job,
    orgs,
    alice,
    bob,
    charlie,
    smtp,
    receiver,
    allow_private_webhooks,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.FLEETWATCH_BASE_URL, settings.FLEETWATCH_BASE_URL_IS_SET = "https://fleetwatch.example.org", True
    alice.email, bob.email, charlie.email = "alice@a.example", "bob@a.example", "charlie@b.example"
    for user in (alice, bob, charlie):
        user.save()
    webhook = Webhook.objects.create(organization=orgs[0], name="pager", url=receiver.url)
    Webhook.objects.create(organization=orgs[1], name="b", url=receiver.url + "/b")
    run(job, NIGHT - DAY)
    run(job, NIGHT, size=5 * GIB)
    evaluate(job, NOW, django_capture_on_commit_callbacks)  # -50 %: CRITICAL
    run(job, NIGHT + DAY, size=5 * GIB)
    evaluate(job, NOW + DAY, django_capture_on_commit_callbacks)  # OK
    subjects = [m.split("Subject: ")[1].splitlines()[0] for m in smtp.to("alice@a.example")]
    assert subjects == ["dump of s1 in eqiad: CRITICAL", "dump of s1 in eqiad: OK"]
    assert f"https://fleetwatch.example.org/backups/jobs/{job.pk}/" in smtp.to("alice@a.example")[0]
    assert len(smtp.to("bob@a.example")) == 2
    assert smtp.to("charlie@b.example") == []
    assert receiver.paths == ["/alerts", "/alerts"]
    receiver.verify(webhook.secret)
    firing, resolved = receiver.payloads()
    labels = {
        "alertname": "backup_freshness",
        "severity": "critical",
        "organization": "org-a",
        "job": "dump of s1 in eqiad",
        "job_id": str(job.pk),
        "section": "s1",
        "type": "dump",
        "datacenter": "eqiad",
        "check": "freshness",
    }
    assert firing["alerts"][0]["labels"] == resolved["alerts"][0]["labels"] == labels
    assert (firing["status"], resolved["status"]) == ("firing", "resolved")
    assert firing["alerts"][0]["annotations"] == {
        "summary": "dump of s1 in eqiad: CRITICAL",
        "description": "Last dump for s1 at eqiad (db1001) taken on 2026-11-29 01:00:00 is 5 GiB, but the "
        "previous one was 10 GiB, a change of -50.0 %",
        "status": "CRITICAL",
    }
    assert resolved["alerts"][0]["annotations"]["summary"] == "dump of s1 in eqiad: OK"
    assert firing["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"]
    assert (firing["alerts"][0]["startsAt"], firing["alerts"][0]["endsAt"]) == (
        "2026-11-30T12:00:00Z",
        "0001-01-01T00:00:00Z",
    )
    assert (resolved["alerts"][0]["startsAt"], resolved["alerts"][0]["endsAt"]) == (
        "2026-11-30T12:00:00Z",
        "2026-12-01T12:00:00Z",
    )
    assert firing["alerts"][0]["generatorURL"] == f"https://fleetwatch.example.org/backups/jobs/{job.pk}/"
    assert firing["groupLabels"] == {"alertname": "backup_freshness", "job_id": str(job.pk)}
    assert firing["version"] == "4"
    deliveries = WebhookDelivery.objects.filter(webhook=webhook).order_by("created")
    assert [(d.kind, d.status, d.response_code) for d in deliveries] == [
        ("problem", "delivered", 200),
        ("recovery", "delivered", 200),
    ]


def test_a_severity_change_keeps_the_alerts_fingerprint(
    job, orgs, alice, receiver, allow_private_webhooks, django_capture_on_commit_callbacks
):
    Webhook.objects.create(organization=orgs[0], name="pager", url=receiver.url)
    run(job, NIGHT - DAY)
    evaluate(job, NOW - DAY, django_capture_on_commit_callbacks)  # WARNING
    run(job, NIGHT, size=GIB)
    evaluate(job, NOW, django_capture_on_commit_callbacks)  # CRITICAL
    warning, critical = receiver.payloads()
    assert (warning["alerts"][0]["labels"]["severity"], critical["alerts"][0]["labels"]["severity"]) == (
        "warning",
        "critical",
    )
    assert warning["alerts"][0]["fingerprint"] == critical["alerts"][0]["fingerprint"]


# ------------------------------------------------------------------ acceptance, through close_run


def test_a_failing_dump_is_critical_at_once_told_once_and_its_recovery_once(
    job,
    alice,
    bob,
    smtp,
    django_capture_on_commit_callbacks,
):
    alice.email = "alice@a.example"
    alice.save()
    run(job, NIGHT - DAY)  # history, closed outside any capture: no receiver ran
    run(job, NIGHT)
    evaluate(job, NOW, django_capture_on_commit_callbacks)
    assert told(alice) == []
    with freeze_time(NOW + DAY), django_capture_on_commit_callbacks(execute=True):
        opened, _ = open_run(job, source="db1001.eqiad.wmnet:3311")
        failed, _ = close_run(
            opened, "failed", exit_status=2, log="mysqldump: Access denied for user 'backup'"
        )
    assert failed.status == "failed"
    assert BackupJob.objects.get(pk=job.pk).status == "critical"
    assert told(alice) == [("problem", "dump of s1 in eqiad: CRITICAL")]
    assert Notification.objects.get(user=alice).message == (
        "The newest dump for s1 at eqiad (db1001) failed: started on 2026-12-01 12:00:00, exit status 2"
    )
    with freeze_time(NOW + DAY + HOUR), django_capture_on_commit_callbacks(execute=True):
        evaluate_all(NOW + DAY + HOUR)  # the periodic pass in between tells nothing new
        opened, _ = open_run(job, source="db1001.eqiad.wmnet:3311")
    with freeze_time(NOW + DAY + 2 * HOUR), django_capture_on_commit_callbacks(execute=True):
        close_run(opened, "finished", total_size=10 * GIB)
    assert BackupJob.objects.get(pk=job.pk).status == "ok"
    assert told(alice) == [
        ("problem", "dump of s1 in eqiad: CRITICAL"),
        ("recovery", "dump of s1 in eqiad: OK"),
    ]
    assert told(bob) == told(alice)
    assert [m.split("Subject: ")[1].splitlines()[0] for m in smtp.to("alice@a.example")] == [
        "dump of s1 in eqiad: CRITICAL",
        "dump of s1 in eqiad: OK",
    ]
    assert BackupRun.objects.filter(job=job, charted=True).count() == 1  # the good run closed here


# ------------------------------------------------------------------ the docs' examples


def test_the_docs_examples_are_what_the_code_says(job):
    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "backups.md").read_text().split())
    failed = BackupRun(
        source="db1001.eqiad.wmnet:3311", start_date=datetime(2026, 12, 1, 12, tzinfo=UTC), exit_status=2
    )
    assert f"`{failed_result(job, failed, Result(OK, 'fine')).message}`" in text

    def event(check, status, kind="problem"):
        return JobEvent(
            kind,
            check,
            status,
            CRITICAL,
            "m",
            "<uuid>",
            job.name,
            "s1",
            "dump",
            "eqiad",
            "1",
            "org-a",
            NOW,
            NOW,
        )

    for example in (
        event("freshness", CRITICAL).title,
        event("freshness", OK, "recovery").title,
        event("long_running", WARNING).title,
        event("schedule", CRITICAL).title,
    ):
        assert f"`{example}`" in text
    labels = event("freshness", CRITICAL).webhook_payload("w", "")["alerts"][0]["labels"]
    assert json.dumps(labels) in text


def test_many_problems_at_once_read_the_organizations_audience_once(
    orgs, alice, bob, charlie, monkeypatch, django_capture_on_commit_callbacks
):
    from fleetwatch.notifications import dispatch

    for index in range(10):
        BackupJob.objects.create(
            organization=orgs[index % 2], section=f"s{index}", type="dump", datacenter="eqiad"
        )
    read = []
    original = dispatch.Audience.of.__func__

    def spy(cls, organization_id):
        read.append(organization_id)
        return original(cls, organization_id)

    monkeypatch.setattr(dispatch.Audience, "of", classmethod(spy))
    with django_capture_on_commit_callbacks(execute=True):
        assert evaluate_all(NOW).told == 10  # every job has no run: CRITICAL
    assert sorted(map(str, read)) == sorted([str(orgs[0].pk), str(orgs[1].pk)])
    assert [len(told(user)) for user in (alice, bob, charlie)] == [5, 5, 5]
