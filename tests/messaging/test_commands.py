"""The command lifecycle (fleetwatch.messaging.commands): numbering, validation, delivery and
re-delivery, results (first wins, bounded output), cancel, expiry, batches, the worker pass."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from fleetwatch.messaging import commands
from fleetwatch.messaging.commands import CommandFinished, CommandRefused, UnknownCommand
from fleetwatch.messaging.models import MAX_OUTPUT, Command, DeviceChannel

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_seq_numbers_a_devices_commands_from_1_and_each_device_on_its_own(alice, device_a, device_b):
    first = commands.queue(device_a, "test", "", alice, now=T0)
    second = commands.queue(device_a, "exec", " uptime ", alice, now=T0)
    other = commands.queue(device_b, "reboot", None, alice, now=T0)
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    assert second.argument == "uptime"
    assert (second.status, second.requested_by, second.expires) == ("queued", alice, T0 + timedelta(days=7))
    assert DeviceChannel.objects.get(device=device_a).last_seq == 2


def test_seq_continues_after_commands_are_deleted(alice, device_a):
    commands.queue(device_a, "test", "", alice)
    Command.objects.all().delete()
    assert commands.queue(device_a, "test", "", alice).seq == 2


def test_the_expiry_follows_the_setting(alice, device_a, settings):
    settings.FLEETWATCH_COMMAND_EXPIRY = timedelta(hours=1)
    assert commands.queue(device_a, "test", "", alice, now=T0).expires == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("action", "argument", "field", "message"),
    [
        ("format", "", "action", "'format' is not a command; one of exec, reboot, restart, test, logs."),
        ("exec", "  ", "argument", "exec needs a command line."),
        ("exec", "x" * 1001, "argument", "The argument has more than 1000 characters."),
        ("exec", "a\x00b", "argument", "The argument must not contain NUL characters."),
        ("reboot", "now", "argument", "reboot takes no argument."),
        ("test", "x", "argument", "test takes no argument."),
        (
            "restart",
            "",
            "argument",
            "restart needs a service name (letters, digits, '@', '.', '_', ':' and '-').",
        ),
        (
            "restart",
            "a;reboot",
            "argument",
            "restart needs a service name (letters, digits, '@', '.', '_', ':' and '-').",
        ),
        ("logs", "syslog", "argument", "logs needs an absolute path and optionally KiB: '/var/log/syslog 64'."),
        ("logs", "/var/log/syslog 0", "argument", "logs: KiB must be between 1 and 1024, not 0."),
        ("logs", "/var/log/syslog 1025", "argument", "logs: KiB must be between 1 and 1024, not 1025."),
    ],
)
def test_a_refused_command_names_the_field_and_queues_nothing(alice, device_a, action, argument, field, message):
    with pytest.raises(CommandRefused) as refused:
        commands.queue(device_a, action, argument, alice)
    assert (refused.value.field, str(refused.value)) == (field, message)
    assert Command.objects.count() == 0


@pytest.mark.parametrize(
    ("action", "argument"),
    [("restart", "fleetwatch-agent.service"), ("logs", "/var/log/syslog"), ("logs", "/var/log/syslog 1024")],
)
def test_valid_arguments(alice, device_a, action, argument):
    assert commands.queue(device_a, action, argument, alice).argument == argument


@pytest.mark.django_db(transaction=True)
def test_concurrent_queues_never_share_a_seq(alice, device_a):
    """Eight threads, each with its own database connection, queue five commands each."""
    errors = []

    def work():
        try:
            for _ in range(5):
                commands.queue(device_a, "test", "", alice)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(Command.objects.values_list("seq", flat=True)) == list(range(1, 41))
    assert DeviceChannel.objects.get(device=device_a).last_seq == 40


def test_wire_form(alice, device_a):
    command = commands.queue(device_a, "exec", "uptime", alice)
    assert commands.wire(command) == {"seq": 1, "action": "exec", "argument": "uptime"}


def test_offer_delivers_queued_by_seq_and_offers_delivered_unfinished_again(alice, device_a, device_b):
    one = commands.queue(device_a, "test", "", alice, now=T0)
    two = commands.queue(device_a, "exec", "uptime", alice, now=T0)
    commands.queue(device_b, "test", "", alice, now=T0)
    assert [c.seq for c in commands.offer(device_a, "http", now=T0 + timedelta(minutes=1), limit=1)] == [1]
    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.status, one.channel, one.delivered) == ("delivered", "http", T0 + timedelta(minutes=1))
    assert two.status == "queued"
    later = T0 + timedelta(minutes=2)
    offered = commands.offer(device_a, "mqtt", now=later)
    assert [(c.seq, c.status, c.channel) for c in offered] == [(1, "delivered", "http"), (2, "delivered", "mqtt")]
    one.refresh_from_db()
    assert one.delivered == T0 + timedelta(minutes=1)  # the first delivery is kept
    commands.record_result(device_a, 1, "OK", b"up 3 days", now=later)
    assert [c.seq for c in commands.offer(device_a, "http", now=later)] == [2]


def test_offer_leaves_out_expired_and_finished_commands(alice, device_a):
    commands.queue(device_a, "test", "", alice, now=T0)
    cancelled = commands.queue(device_a, "test", "", alice, now=T0 + timedelta(days=1))
    commands.cancel(cancelled, alice)
    assert commands.offer(device_a, "http", now=T0 + timedelta(days=7)) == []
    assert Command.objects.get(seq=1).status == "queued"  # left for expire()


def test_first_result_wins(alice, device_a):
    commands.queue(device_a, "exec", "date", alice, now=T0)
    done, recorded = commands.record_result(device_a, 1, "ok", "Tue Dec  1\n", now=T0 + timedelta(seconds=5))
    assert recorded is True
    assert (done.status, done.output, done.output_truncated) == ("ok", "Tue Dec  1\n", False)
    assert (done.delivered, done.finished) == (T0 + timedelta(seconds=5),) * 2  # a result without delivery
    again, recorded = commands.record_result(device_a, 1, "ERR", "other", now=T0 + timedelta(minutes=1))
    assert recorded is False
    again.refresh_from_db()
    assert (again.status, again.output, again.finished) == ("ok", "Tue Dec  1\n", T0 + timedelta(seconds=5))


def test_a_result_for_a_cancelled_command_is_ignored(alice, device_a):
    command = commands.queue(device_a, "exec", "date", alice)
    commands.offer(device_a, "http")
    commands.cancel(command, alice)
    _, recorded = commands.record_result(device_a, 1, "OK", "ran anyway")
    command.refresh_from_db()
    assert (recorded, command.status, command.output) == (False, "cancelled", "")


def test_unknown_seq_and_bad_status(alice, device_a, device_b):
    commands.queue(device_a, "test", "", alice)
    with pytest.raises(UnknownCommand) as unknown:
        commands.record_result(device_b, 1, "OK", "")
    assert str(unknown.value) == f"Device {device_b.pk} has no command 1."
    with pytest.raises(CommandRefused) as refused:
        commands.record_result(device_a, 1, "done", "")
    assert (refused.value.field, str(refused.value)) == ("status", "status must be OK or ERR, not 'done'.")
    for seq in (0, -1, True, "1", 2**31):
        with pytest.raises(CommandRefused) as refused:
            commands.record_result(device_a, seq, "OK", "")
        assert refused.value.field == "seq"
    assert Command.objects.get().status == "queued"


def test_output_is_bounded_to_max_output_bytes_of_utf8():
    assert MAX_OUTPUT == 1048576
    assert commands.bound_output(b"a" * MAX_OUTPUT) == ("a" * MAX_OUTPUT, False)
    assert commands.bound_output(b"a" * (MAX_OUTPUT + 1)) == ("a" * MAX_OUTPUT, True)
    # "é" is two bytes: a bound that falls inside one drops it whole.
    text, truncated = commands.bound_output("a" + "é" * (MAX_OUTPUT // 2))
    assert (len(text.encode()), text[-1], truncated) == (MAX_OUTPUT - 1, "é", True)
    # Invalid UTF-8 becomes U+FFFD (three bytes), counted after decoding.
    text, truncated = commands.bound_output(b"\xff" * 400000)
    assert (text, truncated) == ("\ufffd" * (MAX_OUTPUT // 3), True)
    assert commands.bound_output(b"ok\x00\xffend") == ("ok\ufffd\ufffdend", False)
    assert commands.bound_output("lone \ud800") == ("lone ?", False)
    assert commands.bound_output(None) == ("", False)


def test_a_bounded_output_is_stored_with_its_flag(alice, device_a):
    commands.queue(device_a, "logs", "/var/log/syslog", alice)
    command, _ = commands.record_result(device_a, 1, "OK", b"x" * (2 * MAX_OUTPUT))
    command.refresh_from_db()
    assert (len(command.output), command.output_truncated) == (MAX_OUTPUT, True)


def test_cancel_only_queued_or_delivered(alice, bob, device_a):
    queued = commands.queue(device_a, "test", "", alice)
    delivered = commands.queue(device_a, "test", "", alice)
    finished = commands.queue(device_a, "test", "", alice)
    commands.offer(device_a, "http", limit=2)
    commands.offer(device_a, "http", limit=3)
    commands.record_result(device_a, finished.seq, "OK", "")
    queued.status = "queued"
    Command.objects.filter(pk=queued.pk).update(status="queued")
    for command in (queued, delivered):
        done = commands.cancel(command, bob, now=T0)
        assert (done.status, done.cancelled_by, done.finished) == ("cancelled", bob, T0)
    for command in (queued, finished):
        with pytest.raises(CommandFinished) as refused:
            commands.cancel(command, alice)
        assert str(refused.value).endswith("only a queued or delivered command can be cancelled.")
    assert str(refused.value).startswith("Command 3 is ok:")


def test_expire_marks_pending_commands_past_their_time(alice, device_a):
    commands.queue(device_a, "test", "", alice, now=T0)
    commands.queue(device_a, "test", "", alice, now=T0)
    commands.queue(device_a, "test", "", alice, now=T0 + timedelta(hours=1))
    done = commands.queue(device_a, "test", "", alice, now=T0)
    commands.offer(device_a, "http", now=T0, limit=1)
    commands.record_result(device_a, done.seq, "ERR", "no")
    deadline = T0 + timedelta(days=7)
    assert commands.expire(deadline - timedelta(seconds=1)) == 0
    assert commands.expire(deadline) == 2
    assert dict(Command.objects.values_list("seq", "status")) == {1: "expired", 2: "expired", 3: "queued", 4: "err"}
    assert Command.objects.get(seq=1).finished == deadline
    assert commands.expire(deadline) == 0


def test_the_worker_pass_expires(alice, device_a, settings):
    from fleetwatch.messaging.command_tasks import expire_commands

    from django.utils import timezone

    commands.queue(device_a, "test", "", alice, now=timezone.now() - timedelta(days=7, seconds=1))
    commands.queue(device_a, "test", "", alice)
    assert expire_commands.delay().get() == 1
    assert settings.CELERY_BEAT_SCHEDULE["expire-commands"] == {
        "task": "fleetwatch.messaging.command_tasks.expire_commands",
        "schedule": 60,
    }


def test_a_batch_queues_one_command_per_device_and_shows_progress(alice, orgs, device_a):
    from fleetwatch.inventory.models import Device

    other = Device.objects.create(organization=orgs[0], name="ap-2")
    commands.queue(other, "test", "", alice)
    batch = commands.queue_batch([device_a, other, device_a], "exec", "uptime", alice)
    assert (batch.organization, batch.action, batch.argument, batch.requested_by) == (
        orgs[0],
        "exec",
        "uptime",
        alice,
    )
    assert sorted((c.device.name, c.seq) for c in batch.commands.all()) == [("ap-2", 2), ("ap-lobby", 1)]
    commands.record_result(other, 2, "OK", "")
    assert commands.progress(batch) == {
        "queued": 1,
        "delivered": 0,
        "ok": 1,
        "err": 0,
        "expired": 0,
        "cancelled": 0,
    }


def test_a_batch_is_all_or_nothing(alice, device_a, device_b):
    cases = [
        ([device_a, device_b], "test", "", "The devices of a batch must belong to one organization."),
        ([], "test", "", "Name at least one device."),
        ([device_a], "exec", "", "exec needs a command line."),
    ]
    for devices, action, argument, message in cases:
        with pytest.raises(CommandRefused) as refused:
            commands.queue_batch(devices, action, argument, alice)
        assert str(refused.value) == message
    assert (Command.objects.count(), DeviceChannel.objects.filter(last_seq__gt=0).count()) == (0, 0)


def test_note_contact_records_channel_features_agent_and_last_seen(device_a):
    commands.note_contact(device_a, "http", now=T0, features="c", agent="fleetwatch-agent/0.1.0\x00\n")
    row = DeviceChannel.objects.get(device=device_a)
    device_a.refresh_from_db()
    assert (row.channel, row.features, row.agent, row.last_message) == ("http", "c", "fleetwatch-agent/0.1.0", T0)
    assert row.commands_enabled is True
    assert device_a.last_seen == T0
    commands.note_contact(device_a, "mqtt", now=T0 + timedelta(minutes=1))
    row.refresh_from_db()
    assert (row.channel, row.features, row.agent) == ("mqtt", "c", "fleetwatch-agent/0.1.0")
