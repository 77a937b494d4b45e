"""The iperf3 check for real: Debian's OpenSSH server on loopback stands in for the router (its
own sshd_config, host key and authorized_keys in a temporary directory, the current user as
the router's login) and Debian's iperf3 serves on loopback. The check logs in with paramiko,
runs ``iperf3 -J`` TCP then UDP, and the point lands in every time-series backend.

The same sshd listens on a second port where a ForceCommand runs every command with a PATH
without iperf3: that "router" has no iperf3 installed. scripts/test.sh installs openssh-server
and iperf3 when absent (scripts/services/tools.sh)."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bench.server import free_port
from django.db import connection

from fleetwatch.monitoring.check_runner import run_check
from fleetwatch.monitoring.checks.iperf3 import NotInstalled
from fleetwatch.monitoring.models import Chart, Check, DeviceHealth, Iperf3Lock, Iperf3Server, SshCredentials
from fleetwatch.timeseries import ReadQuery

SSHD = "/usr/sbin/sshd"
IPERF3 = shutil.which("iperf3") or "/usr/bin/iperf3"
# This suite's ports (the range of the iperf3 work; sshd first, then iperf3 servers).
PORTS = range(21550, 21600)
# Follows the clock: a fixed date would fall out of the store's retention some day.
NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
FIELDS = {
    "iperf3_result",
    "sent_bps_tcp",
    "received_bps_tcp",
    "sent_bytes_tcp",
    "received_bytes_tcp",
    "retransmits",
    "sent_bytes_udp",
    "sent_bps_udp",
    "jitter",
    "total_packets",
    "lost_packets",
    "lost_percent",
}
NOT_INSTALLED = "iperf3 is not installed on the device (exit 127: command not found)"
# One second per test and a modest UDP rate: the whole check takes about three seconds.
PARAMS = {"time": 1, "udp_bitrate": 10_000_000, "ssh_timeout": 20}


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    """Until ``port`` accepts connections on 127.0.0.1 (the server is up), at most 20 s."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {process.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} does not listen on 127.0.0.1:{port}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Router:
    """An sshd on loopback: ``port`` with iperf3 on the PATH, ``bare_port`` without."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.user = getpass.getuser()
        for name in ("host_key", "client_key", "stranger_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(directory / name)],
                check=True,
            )
        (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
        (directory / "authorized_keys").chmod(0o600)
        self.port = free_port(PORTS)
        self.bare_port = free_port(p for p in PORTS if p != self.port)
        (directory / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1:{self.port}\n"
            f"ListenAddress 127.0.0.1:{self.bare_port}\n"
            f"HostKey {directory}/host_key\n"
            f"PidFile {directory}/sshd.pid\n"
            f"AuthorizedKeysFile {directory}/authorized_keys\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "UsePAM no\n"
            "StrictModes no\n"
            f"AllowUsers {self.user}\n"
            # A router without iperf3: every command runs with a PATH that has none.
            f"Match LocalPort {self.bare_port}\n"
            '    ForceCommand env PATH=/nonexistent /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        )
        if os.geteuid() == 0:
            # sshd started by root wants its privilege separation directory (systemd makes it).
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(directory / "sshd_config")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_port(self.port, self.process, "sshd")

    def key(self, name: str = "client_key") -> str:
        return (self.dir / name).read_text()

    def host_key(self) -> str:
        kind, data, _ = (self.dir / "host_key.pub").read_text().split(" ", 2)
        return f"{kind} {data}"


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    assert Path(SSHD).exists(), "openssh-server is not installed (scripts/services/tools.sh openssh-server)"
    found = Router(tmp_path_factory.mktemp("router"))
    yield found
    stop(found.process)


@pytest.fixture(scope="module")
def iperf3_port(router):
    """A real ``iperf3 -s`` on loopback (it serves one test at a time, TCP then UDP here)."""
    assert Path(IPERF3).exists(), "iperf3 is not installed (scripts/services/tools.sh iperf3)"
    port = free_port(p for p in PORTS if p not in (router.port, router.bare_port))
    process = subprocess.Popen(
        [IPERF3, "-s", "-B", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_port(port, process, "iperf3 -s")
    yield port
    stop(process)


@pytest.fixture
def router_device(device_a, router):
    """Organization A's router: reported once (its checks run), logs in with the client key."""
    device_a.last_seen = NOW - timedelta(minutes=5)
    device_a.management_ip = "127.0.0.1"
    device_a.save()
    SshCredentials.objects.create(
        device=device_a, username=router.user, port=router.port, private_key=router.key()
    )
    return device_a


def iperf3_check(device) -> Check:
    """The device's iperf3 check, read afresh (as the worker's task reads it)."""
    created = Check.objects.create(device=device, check_type="iperf3", params=PARAMS)
    return Check.objects.select_related("device__organization").get(pk=created.pk)


def stored(backend, device) -> list:
    tags = {"content_type": "inventory.device", "object_id": str(device.pk)}
    return backend.read(ReadQuery("iperf3", tags=tags, consistent=True))


def test_the_check_measures_tcp_and_udp_over_ssh_and_stores_every_field(
    store, router, iperf3_port, router_device
):
    Iperf3Server.objects.create(organization=router_device.organization, host="127.0.0.1", port=iperf3_port)
    check = iperf3_check(router_device)

    [metric] = run_check(check, NOW)

    [row] = stored(store, router_device)
    assert row.time == NOW
    assert set(row.fields) == FIELDS
    fields = row.fields
    assert fields["iperf3_result"] == 1
    assert fields["sent_bps_tcp"] > 0
    assert fields["received_bps_tcp"] > 0
    assert fields["sent_bytes_tcp"] > 0
    assert fields["received_bytes_tcp"] > 0
    assert fields["retransmits"] >= 0
    # UDP at 10 Mbit/s for one second: about 1.25 MB in datagrams of the path MTU.
    assert 5_000_000 < fields["sent_bps_udp"] < 15_000_000
    assert fields["sent_bytes_udp"] > 0
    assert fields["total_packets"] > 0
    assert 0 <= fields["lost_packets"] <= fields["total_packets"]
    assert 0 <= fields["lost_percent"] <= 100
    assert fields["jitter"] >= 0
    assert (metric.configuration, metric.key, metric.field_name, metric.is_healthy) == (
        "iperf3",
        "iperf3",
        "iperf3_result",
        True,
    )
    assert sorted(Chart.objects.filter(metric=metric).values_list("configuration", flat=True)) == [
        "bandwidth",
        "datagram",
        "datagram_loss",
        "jitter",
        "retransmits",
        "transfer",
    ]
    check.refresh_from_db()
    assert (check.last_run, check.last_error) == (NOW, "")
    # The lock was given back; the device's host key was pinned on first use.
    assert Iperf3Lock.objects.count() == 0
    assert SshCredentials.objects.get(device=router_device).host_key == router.host_key()


def test_a_router_without_iperf3_reports_it_and_stores_nothing(
    store, router, iperf3_port, router_device, caplog
):
    SshCredentials.objects.filter(device=router_device).update(port=router.bare_port)
    Iperf3Server.objects.create(organization=router_device.organization, host="127.0.0.1", port=iperf3_port)
    check = iperf3_check(router_device)

    assert run_check(check, NOW) == []

    assert stored(store, router_device) == []
    check.refresh_from_db()
    assert (check.last_run, check.last_error) == (NOW, NOT_INSTALLED)
    assert f"check iperf3 of ap-lobby failed to run: {NOT_INSTALLED}" in caplog.messages
    assert router_device.metrics.count() == 0
    assert Iperf3Lock.objects.count() == 0
    assert str(NotInstalled()) == NOT_INSTALLED


def test_a_critical_device_is_skipped(timeseries, router, iperf3_port, router_device):
    Iperf3Server.objects.create(organization=router_device.organization, host="127.0.0.1", port=iperf3_port)
    DeviceHealth.objects.create(device=router_device, status="critical", changed=NOW)
    check = iperf3_check(router_device)

    assert run_check(check, NOW) == []

    assert stored(timeseries, router_device) == []
    # Not even logged in: the host key is still unknown.
    assert SshCredentials.objects.get(device=router_device).host_key == ""


def test_a_server_in_use_by_another_device_is_passed_over_for_the_next(
    timeseries, router, iperf3_port, router_device
):
    organization = router_device.organization
    # The first server (nothing listens there) is held by another device's check.
    busy = Iperf3Server.objects.create(
        organization=organization, host="127.0.0.1", port=free_port(PORTS), priority=0
    )
    assert busy.take("another-device", NOW, 600)
    Iperf3Server.objects.create(organization=organization, host="127.0.0.1", port=iperf3_port, priority=1)

    run_check(iperf3_check(router_device), NOW)

    [row] = stored(timeseries, router_device)
    assert row.fields["iperf3_result"] == 1
    assert list(Iperf3Lock.objects.values_list("server", "holder")) == [(busy.pk, "another-device")]


def test_when_every_server_is_in_use_the_check_waits_for_its_next_run(timeseries, router, router_device):
    server = Iperf3Server.objects.create(organization=router_device.organization, host="127.0.0.1", port=5201)
    assert server.take("another-device", NOW, 600)
    check = iperf3_check(router_device)

    assert run_check(check, NOW) == []

    assert stored(timeseries, router_device) == []
    check.refresh_from_db()
    assert check.last_error == "every iperf3 server of Org A is in use; the next run tries again"


def test_a_lock_holds_one_device_at_a_time_until_it_expires_or_is_released(orgs):
    server = Iperf3Server.objects.create(organization=orgs[0], host="127.0.0.1", port=5201)

    assert server.take("device-1", NOW, 600) is True
    assert server.take("device-2", NOW + timedelta(seconds=599), 600) is False
    server.release("device-2")  # not its lock: nothing happens
    assert server.take("device-2", NOW + timedelta(seconds=1), 600) is False
    # A crashed check's lock expires.
    assert server.take("device-2", NOW + timedelta(seconds=600), 600) is True
    server.release("device-1")  # its lock was taken over: device-2 keeps it
    assert list(Iperf3Lock.objects.values_list("holder", flat=True)) == ["device-2"]
    server.release("device-2")
    assert server.take("device-3", NOW + timedelta(seconds=601), 600) is True


def test_a_refused_iperf3_server_stores_a_failed_result_with_zeros(timeseries, router, router_device):
    nobody = free_port(PORTS)  # nothing listens there
    Iperf3Server.objects.create(organization=router_device.organization, host="127.0.0.1", port=nobody)

    run_check(iperf3_check(router_device), NOW)

    [row] = stored(timeseries, router_device)
    assert row.fields == {
        "iperf3_result": 0,
        "sent_bps_tcp": 0.0,
        "received_bps_tcp": 0.0,
        "sent_bytes_tcp": 0,
        "received_bytes_tcp": 0,
        "retransmits": 0,
        "sent_bps_udp": 0.0,
        "sent_bytes_udp": 0,
        "jitter": 0.0,
        "total_packets": 0,
        "lost_packets": 0,
        "lost_percent": 0.0,
    }
    assert router_device.metrics.get(configuration="iperf3").is_healthy is False


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            lambda router, creds: setattr(creds, "private_key", router.key("stranger_key")),
            "SSH to {user}@127.0.0.1:{port} failed: Authentication failed.",
        ),
        (
            lambda router, creds: setattr(creds, "host_key", (router.dir / "client_key.pub").read_text()),
            "SSH to {user}@127.0.0.1:{port}: the device's host key is not the pinned one",
        ),
        (
            lambda router, creds: setattr(creds, "port", free_port(PORTS)),
            "SSH to {user}@127.0.0.1:{port} failed: [Errno None] Unable to connect to port {port} on 127.0.0.1",
        ),
    ],
    ids=["unknown-key", "another-host-key", "nothing-listens"],
)
def test_an_ssh_failure_is_reported_not_raised(timeseries, router, router_device, change, error):
    Iperf3Server.objects.create(organization=router_device.organization, host="127.0.0.1", port=5201)
    credentials = SshCredentials.objects.get(device=router_device)
    change(router, credentials)
    credentials.save()
    check = iperf3_check(router_device)

    assert run_check(check, NOW) == []

    check.refresh_from_db()
    assert check.last_error == error.format(user=router.user, port=credentials.port)
    assert stored(timeseries, router_device) == []
    assert Iperf3Lock.objects.count() == 0


def test_a_device_without_credentials_or_servers_is_told_so(timeseries, device_a):
    device_a.last_seen = NOW
    device_a.save()
    check = iperf3_check(device_a)
    run_check(check, NOW)
    check.refresh_from_db()
    assert check.last_error == "the device has no SSH credentials (the iperf3 check logs in over SSH)"

    SshCredentials.objects.create(device=device_a, username="root", address="127.0.0.1", password="pw")
    run_check(check, NOW)
    check.refresh_from_db()
    assert check.last_error == "organization Org A has no active iperf3 server"


def test_credentials_are_stored_encrypted_and_rotated_to_a_new_key(device_a, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FLEETWATCH_CREDENTIALS_KEYS = [old]
    SshCredentials.objects.create(device=device_a, username="root", password="s3cret", private_key="KEY TEXT")

    def raw() -> tuple[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT password, private_key FROM monitoring_sshcredentials WHERE device_id = %s",
                [device_a.pk.hex if connection.vendor == "sqlite" else device_a.pk],
            )
            return cursor.fetchone()

    password, key = raw()
    assert password.startswith("fernet:")
    assert key.startswith("fernet:")
    assert "s3cret" not in password
    assert "KEY TEXT" not in key
    assert Fernet(old).decrypt(password.removeprefix("fernet:").encode()) == b"s3cret"

    settings.FLEETWATCH_CREDENTIALS_KEYS = [new, old]  # a new key first, the old one still read
    call_command("rotate_credentials", stdout=open(os.devnull, "w"))
    settings.FLEETWATCH_CREDENTIALS_KEYS = [new]  # the old key is gone
    row = SshCredentials.objects.get(device=device_a)
    assert (row.password, row.private_key) == ("s3cret", "KEY TEXT")
    assert Fernet(new).decrypt(raw()[0].removeprefix("fernet:").encode()) == b"s3cret"


def test_credentials_no_key_decrypts_are_reported_by_the_check(timeseries, router, router_device, settings):
    from cryptography.fernet import Fernet

    from fleetwatch.core.crypto import Unreadable

    Iperf3Server.objects.create(organization=router_device.organization, host="127.0.0.1", port=5201)
    settings.FLEETWATCH_CREDENTIALS_KEYS = [Fernet.generate_key().decode()]  # not the one that encrypted
    credentials = SshCredentials.objects.get(device=router_device)
    assert isinstance(credentials.private_key, Unreadable)
    credentials.save()  # kept as stored, not lost
    check = iperf3_check(router_device)

    run_check(check, NOW)

    check.refresh_from_db()
    assert check.last_error == (
        f"SSH to {router.user}@127.0.0.1:{router.port}: the credentials cannot be decrypted "
        "(FLEETWATCH_CREDENTIALS_KEYS)"
    )
    settings.FLEETWATCH_CREDENTIALS_KEYS = []  # the key derived from SECRET_KEY again
    assert SshCredentials.objects.get(device=router_device).private_key == router.key()
