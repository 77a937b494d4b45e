"""Delivering the outbox to a real HTTP receiver on 127.0.0.1: success, retries with backoff and
their bound, refusals dropped, the timeouts, and nothing sent in DEBUG, when switched off, or
(except the opt-out itself) after consent was withdrawn."""

from __future__ import annotations

import logging
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest

from fleetwatch.usage import payload
from fleetwatch.usage.models import Consent, Outbox
from fleetwatch.usage.sender import delivery, events, tasks
from tests.usage.sender_receiver import Receiver

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def sender(settings, db):
    settings.FLEETWATCH_USAGE_METRICS = True
    settings.DEBUG = False


@pytest.fixture
def receiver(settings, sender):
    with Receiver() as running:
        settings.FLEETWATCH_USAGE_COLLECTOR_URL = running.url
        yield running


def queued(category="Heartbeat", now=NOON) -> Outbox:
    row = Outbox.objects.create(
        category=category,
        payload=payload.upload(1, [payload.event(category, "Fleetwatch Version", "0.1.0", 1)]),
        next_attempt=now,
    )
    Outbox.objects.filter(pk=row.pk).update(created=now)
    return Outbox.objects.get(pk=row.pk)


def usage_errors(caplog):
    return [
        r.getMessage() for r in caplog.records if r.name == delivery.__name__ and r.levelno == logging.ERROR
    ]


def test_a_204_delivers_and_empties_the_outbox(receiver):
    row = events.report(payload.HEARTBEAT, now=NOON)
    assert delivery.flush(now=NOON) == delivery.Outcome(delivered=1)
    assert receiver.requests == [
        {"path": "/api/v1/usage/collect/", "content_type": "application/json", "body": row.payload}
    ]
    assert Outbox.objects.count() == 0


@pytest.mark.parametrize("status", [200, 202])
def test_other_2xx_answers_are_delivered_too(receiver, status):
    receiver.statuses = [status]
    queued()
    assert delivery.flush(now=NOON) == delivery.Outcome(delivered=1)
    assert Outbox.objects.count() == 0


def test_a_server_error_is_retried_with_backoff_then_delivered(receiver):
    receiver.statuses = [503, 500, 429]
    row = queued()
    assert delivery.flush(now=NOON) == delivery.Outcome(retried=1)
    kept = Outbox.objects.get()
    assert (kept.attempts, kept.next_attempt, kept.last_error) == (1, NOON + MINUTE, "HTTP 503")
    # Not due before its time.
    assert delivery.flush(now=NOON + MINUTE - timedelta(seconds=1)) == delivery.Outcome()
    assert delivery.flush(now=NOON + MINUTE) == delivery.Outcome(retried=1)
    kept = Outbox.objects.get()
    assert (kept.attempts, kept.next_attempt, kept.last_error) == (2, NOON + 3 * MINUTE, "HTTP 500")
    assert delivery.flush(now=NOON + 3 * MINUTE) == delivery.Outcome(retried=1)
    assert Outbox.objects.get().next_attempt == NOON + 7 * MINUTE
    assert delivery.flush(now=NOON + 7 * MINUTE) == delivery.Outcome(delivered=1)
    assert len(receiver.requests) == 4
    assert {str(r["body"]) for r in receiver.requests} == {str(row.payload)}
    assert Outbox.objects.count() == 0


def test_backoff_doubles_up_to_six_hours():
    assert [delivery.backoff(n) for n in (1, 2, 3, 9, 10, 20)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=256),
        timedelta(hours=6),
        timedelta(hours=6),
    ]


def test_given_up_after_ten_attempts_with_one_error_log(receiver, caplog):
    receiver.statuses = [502] * 20
    queued()
    now = NOON
    with caplog.at_level(logging.INFO, logger=delivery.__name__):
        for attempt in range(1, 10):
            assert delivery.flush(now=now) == delivery.Outcome(retried=1)
            assert Outbox.objects.get().attempts == attempt
            now += delivery.backoff(attempt)
        assert usage_errors(caplog) == []
        assert delivery.flush(now=now) == delivery.Outcome(dropped=1)
    assert len(receiver.requests) == 10
    assert Outbox.objects.count() == 0
    assert usage_errors(caplog) == [
        "Usage metrics: gave up on the Heartbeat payload after 10 attempts since 2026-12-01T12:00:00+00:00; "
        "last error: HTTP 502"
    ]
    assert now - NOON == timedelta(minutes=511)  # 1 + 2 + … + 256 minutes of trying


def test_given_up_when_older_than_three_days(receiver, caplog):
    receiver.statuses = [500]
    queued()
    assert delivery.flush(now=NOON + timedelta(days=3)) == delivery.Outcome(dropped=1)
    assert len(receiver.requests) == 1
    assert usage_errors(caplog) == [
        "Usage metrics: gave up on the Heartbeat payload after 1 attempts since 2026-12-01T12:00:00+00:00; "
        "last error: HTTP 500"
    ]


@pytest.mark.parametrize("status", [400, 404, 413, 415, 301])
def test_a_refusal_is_dropped_with_one_error_log(receiver, caplog, status):
    receiver.statuses = [status]
    queued()
    assert delivery.flush(now=NOON) == delivery.Outcome(dropped=1)
    assert Outbox.objects.count() == 0
    assert delivery.flush(now=NOON + timedelta(hours=1)) == delivery.Outcome()
    assert len(receiver.requests) == 1
    assert usage_errors(caplog) == [
        f"Usage metrics: the collector refused the Heartbeat payload (HTTP {status}); dropped"
    ]


def test_no_collector_listening_is_retried(sender, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.FLEETWATCH_USAGE_COLLECTOR_URL = f"http://127.0.0.1:{port}/api/v1/usage/collect/"
    queued()
    assert delivery.flush(now=NOON) == delivery.Outcome(retried=1)
    kept = Outbox.objects.get()
    assert kept.attempts == 1
    assert kept.last_error.startswith("NewConnectionError")


def test_a_collector_that_never_answers_times_out_and_is_retried(sender, settings, monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
    thread.start()
    settings.FLEETWATCH_USAGE_COLLECTOR_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/collect/"
    monkeypatch.setattr(delivery, "READ_TIMEOUT", 0.2)
    queued()
    try:
        assert delivery.flush(now=NOON) == delivery.Outcome(retried=1)
    finally:
        thread.join(5)
        for conn, _ in accepted:
            conn.close()
        listener.close()
    assert Outbox.objects.get().last_error.startswith("ReadTimeoutError")


def test_the_timeouts_are_four_and_eight_seconds():
    assert (delivery.CONNECT_TIMEOUT, delivery.READ_TIMEOUT) == (4.0, 8.0)


@pytest.mark.parametrize("switch", ["debug", "off"])
def test_nothing_is_sent_in_debug_or_when_switched_off(receiver, settings, switch):
    queued()
    if switch == "debug":
        settings.DEBUG = True
    else:
        settings.FLEETWATCH_USAGE_METRICS = False
    assert delivery.flush(now=NOON) == delivery.Outcome()
    tasks.send_heartbeat()
    tasks.flush_outbox()
    assert receiver.requests == []
    assert Outbox.objects.get().attempts == 0


def test_after_withdrawal_only_the_opt_out_is_sent(receiver):
    queued("Heartbeat")
    queued("Consent Withdrawn")
    Consent.objects.create(pk=Consent.SINGLETON, user_consented=False, instance_id="")
    assert delivery.flush(now=NOON) == delivery.Outcome(delivered=1, dropped=1)
    assert receiver.categories == ["Consent Withdrawn"]
    assert Outbox.objects.count() == 0


def test_a_row_being_posted_is_not_posted_by_a_second_worker(receiver, monkeypatch):
    queued()
    real_post = delivery.post
    second_pass = []

    def post(url, document):
        if not second_pass:
            second_pass.append(delivery.flush(now=NOON))  # another worker's pass meanwhile
        return real_post(url, document)

    monkeypatch.setattr(delivery, "post", post)
    assert delivery.flush(now=NOON) == delivery.Outcome(delivered=1)
    assert second_pass == [delivery.Outcome()]
    assert len(receiver.requests) == 1


def test_the_heartbeat_task_sends_todays_heartbeat_once(receiver):
    tasks.send_heartbeat()  # the first run finds no snapshot: an Install
    tasks.send_heartbeat()
    tasks.send_heartbeat()  # beat run twice the same day (misconfigured): nothing more
    assert receiver.categories == ["Install", "Heartbeat"]
    assert Outbox.objects.count() == 0
