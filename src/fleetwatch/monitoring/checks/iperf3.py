"""Bandwidth between a device and its organization's iperf3 server, measured by the device.

Fleetwatch logs into the device over SSH (paramiko; the device's ``SshCredentials``) and runs
``iperf3 -c <server> -J`` there, TCP then UDP, against the first of the organization's active
``Iperf3Server`` rows that no other device is using (``Iperf3Server.take``: an iperf3 server
serves one client at a time). The JSON summaries become one ``iperf3`` point:

- ``iperf3_result``: 1 if the TCP or the UDP test passed, else 0;
- TCP: ``sent_bps_tcp``, ``received_bps_tcp`` (bits/s, float), ``sent_bytes_tcp``,
  ``received_bytes_tcp`` (bytes, int), ``retransmits`` (int);
- UDP: ``sent_bps_udp`` (bits/s), ``sent_bytes_udp`` (bytes), ``jitter`` (ms, float),
  ``total_packets``, ``lost_packets`` (int), ``lost_percent`` (%, float).

A test that fails (the server refused, timed out …) stores zeros for its fields. Nothing is
stored, and the reason is the check's ``last_error``, when the device is critical (skipped),
has no credentials, cannot be reached or logged into over SSH, has no iperf3 installed (exit
127, "not found"), or when every server is busy (the next run tries again).
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import shlex
import time as clock
from contextlib import contextmanager

import paramiko
from django.conf import settings

from fleetwatch.core.crypto import Unreadable
from fleetwatch.monitoring.checks.base import BaseCheck, CheckError, Measurement

log = logging.getLogger(__name__)

NOT_FOUND = re.compile(r"not found|No such file or directory", re.IGNORECASE)
BUSY = re.compile(r"server is busy", re.IGNORECASE)
# Waits before a test the server refused as busy (it was still closing the previous one).
BUSY_RETRIES = (0.5, 1.0, 2.0)

TCP_ZERO = {
    "sent_bps_tcp": 0.0,
    "received_bps_tcp": 0.0,
    "sent_bytes_tcp": 0,
    "received_bytes_tcp": 0,
    "retransmits": 0,
}
UDP_ZERO = {
    "sent_bps_udp": 0.0,
    "sent_bytes_udp": 0,
    "jitter": 0.0,
    "total_packets": 0,
    "lost_packets": 0,
    "lost_percent": 0.0,
}


class NotInstalled(CheckError):
    """The device has no ``iperf3`` on its PATH."""

    def __init__(self):
        super().__init__("iperf3 is not installed on the device (exit 127: command not found)")


def tcp_fields(end: dict) -> dict:
    """The TCP fields from the ``end`` object of ``iperf3 -J``'s output."""
    sent, received = end["sum_sent"], end["sum_received"]
    return {
        "sent_bps_tcp": float(sent["bits_per_second"]),
        "received_bps_tcp": float(received["bits_per_second"]),
        "sent_bytes_tcp": int(sent["bytes"]),
        "received_bytes_tcp": int(received["bytes"]),
        # Only Linux senders count retransmits.
        "retransmits": int(sent.get("retransmits", 0)),
    }


def udp_fields(end: dict) -> dict:
    """The UDP fields from the ``end`` object of ``iperf3 -u -J``'s output (``sum``: the
    client's sent side with the server's jitter and loss)."""
    total = end["sum"]
    return {
        "sent_bps_udp": float(total["bits_per_second"]),
        "sent_bytes_udp": int(total["bytes"]),
        "jitter": float(total["jitter_ms"]),
        "total_packets": int(total["packets"]),
        "lost_packets": int(total["lost_packets"]),
        "lost_percent": float(total["lost_percent"]),
    }


def private_key(text: str, passphrase: str) -> paramiko.PKey:
    """A private key from its OpenSSH or PEM text (Ed25519, ECDSA or RSA)."""
    for kind in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return kind.from_private_key(io.StringIO(text), password=passphrase or None)
        except paramiko.PasswordRequiredException:
            raise CheckError("the SSH private key is encrypted and no passphrase is stored") from None
        except (paramiko.SSHException, ValueError):
            continue
    raise CheckError("the SSH private key cannot be read (an Ed25519, ECDSA or RSA key, OpenSSH or PEM)")


class _FirstUse(paramiko.MissingHostKeyPolicy):
    """No key pinned yet: accept the device's and remember it (trust on first use)."""

    seen: paramiko.PKey | None = None

    def missing_host_key(self, client, hostname, key):
        self.seen = key


class Session:
    """One SSH connection to a device; :meth:`run` runs a shell command on it."""

    def __init__(self, client: paramiko.SSHClient, timeout: float):
        self.client = client
        self.timeout = timeout

    def run(self, command: str, stdin: str = "") -> tuple[int, str, str]:
        """``(exit status, stdout, stderr)`` of ``command`` fed ``stdin``."""
        channel_in, out, err = self.client.exec_command(command, timeout=self.timeout)
        if stdin:
            channel_in.write(stdin)
        channel_in.channel.shutdown_write()
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        return out.channel.recv_exit_status(), stdout, stderr


@contextmanager
def ssh_session(credentials, address: str, timeout: float):
    """A :class:`Session` logged into ``address`` with the device's ``credentials``; pins the
    host key on first use, refuses another one after. ``CheckError`` when it cannot log in."""
    where = f"{credentials.username}@{address}:{credentials.port}"
    secrets_stored = (credentials.password, credentials.private_key, credentials.passphrase)
    if any(isinstance(value, Unreadable) for value in secrets_stored):
        raise CheckError(f"SSH to {where}: the credentials cannot be decrypted (FLEETWATCH_CREDENTIALS_KEYS)")
    client = paramiko.SSHClient()
    known_as = address if credentials.port == 22 else f"[{address}]:{credentials.port}"
    if credentials.host_key:
        entry = paramiko.hostkeys.HostKeyEntry.from_line(f"{known_as} {credentials.host_key}")
        if entry is None or entry.key is None:
            raise CheckError(f"SSH to {where}: the pinned host key is not a key line (type base64)")
        client.get_host_keys().add(known_as, entry.key.get_name(), entry.key)
    first_use = _FirstUse()
    client.set_missing_host_key_policy(first_use)
    key = private_key(credentials.private_key, credentials.passphrase) if credentials.private_key else None
    try:
        client.connect(
            address,
            port=credentials.port,
            username=credentials.username,
            password=credentials.password or None,
            pkey=key,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except paramiko.BadHostKeyException:
        client.close()
        raise CheckError(f"SSH to {where}: the device's host key is not the pinned one") from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        client.close()
        raise CheckError(f"SSH to {where} failed: {exc or type(exc).__name__}") from None
    try:
        if first_use.seen is not None:
            credentials.host_key = f"{first_use.seen.get_name()} {first_use.seen.get_base64()}"
            credentials.save(update_fields=["host_key"])
        yield Session(client, timeout)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise CheckError(f"SSH to {where} failed: {exc or type(exc).__name__}") from None
    finally:
        client.close()


class Iperf3(BaseCheck):
    name = "iperf3"
    label = "Iperf3"
    params = {
        "time": (10, 1, 120),  # seconds each test lasts
        "parallel": (1, 1, 128),  # streams
        "connect_timeout": (1000, 100, 60000),  # ms to reach the server
        "tcp_bitrate": (0, 0, 100_000_000_000),  # bits/s, 0 unlimited
        "tcp_length": (131072, 1024, 1048576),  # bytes read/written at a time
        "udp_bitrate": (30_000_000, 0, 100_000_000_000),  # bits/s, 0 unlimited
        "udp_length": (0, 0, 65507),  # datagram payload, 0: iperf3's default (path MTU)
        "reverse": (0, 0, 1),  # 1: the server sends, the device receives
        "ssh_timeout": (10, 1, 120),  # seconds to log in and between answers
    }

    def measure(self) -> list[Measurement]:
        health = getattr(self.device, "health", None)
        if health is not None and health.status == "critical":
            return []  # unreachable anyway; the iperf3 server stays free for the others
        credentials = getattr(self.device, "ssh", None)
        if credentials is None:
            raise CheckError("the device has no SSH credentials (the iperf3 check logs in over SSH)")
        address = credentials.address or self.device.management_ip
        if not address:
            raise CheckError("the device has no SSH address nor management IP")
        organization = self.device.organization
        servers = list(
            organization.iperf3_servers.filter(is_active=True).order_by("priority", "host", "port")
        )
        if not servers:
            raise CheckError(f"organization {organization} has no active iperf3 server")
        holder = secrets.token_hex(16)
        expire = settings.FLEETWATCH_IPERF3_LOCK_EXPIRE
        server = next((s for s in servers if s.take(holder, self.now, expire)), None)
        if server is None:
            raise CheckError(f"every iperf3 server of {organization} is in use; the next run tries again")
        try:
            with ssh_session(credentials, address, self.options["ssh_timeout"]) as session:
                tcp_passed, tcp = self._test(session, server, udp=False)
                udp_passed, udp = self._test(session, server, udp=True)
        finally:
            server.release(holder)
        return [Measurement("iperf3", {"iperf3_result": int(tcp_passed or udp_passed), **tcp, **udp})]

    def command(self, server, udp: bool) -> tuple[str, str]:
        """The shell command run on the device and what it reads on its standard input (the
        password, then the server's public key: neither on a command line nor in a file
        left behind)."""
        o = self.options
        args = ["iperf3", "-c", server.host, "-p", str(server.port), "-t", str(o["time"])]
        args += ["-P", str(o["parallel"]), "--connect-timeout", str(o["connect_timeout"])]
        if udp:
            args += ["-u", "-b", str(o["udp_bitrate"])]
            if o["udp_length"]:
                args += ["-l", str(o["udp_length"])]
        else:
            args += ["-b", str(o["tcp_bitrate"]), "-l", str(o["tcp_length"])]
        if o["reverse"]:
            args.append("-R")
        args.append("-J")
        command = shlex.join(args)
        if not server.username:
            return command, ""
        if isinstance(server.password, Unreadable):
            raise CheckError(f"the password of iperf3 server {server} cannot be decrypted")
        script = (
            "IFS= read -r IPERF3_PASSWORD; export IPERF3_PASSWORD; "
            'key=$(mktemp) || exit 1; trap \'rm -f "$key"\' EXIT; cat > "$key"; '
            f'{command} --username {shlex.quote(server.username)} --rsa-public-key-path "$key"'
        )
        return script, f"{server.password}\n{server.rsa_public_key.strip()}\n"

    def _test(self, session: Session, server, udp: bool) -> tuple[bool, dict]:
        kind = "UDP" if udp else "TCP"
        command, stdin = self.command(server, udp)
        for wait in (*BUSY_RETRIES, None):
            status, out, err = session.run(command, stdin)
            if status == 127 or (status != 0 and not out.strip() and NOT_FOUND.search(err)):
                raise NotInstalled()
            try:
                result = json.loads(out)
            except ValueError:
                result = {"error": (err or out).strip()[:200] or f"exit status {status}"}
            error = result.get("error")
            if error and BUSY.search(error) and wait is not None:
                clock.sleep(wait)
                continue
            break
        if error:
            log.warning("iperf3 %s test of %s against %s failed: %s", kind, self.device, server, error)
            return False, dict(UDP_ZERO if udp else TCP_ZERO)
        try:
            return True, udp_fields(result["end"]) if udp else tcp_fields(result["end"])
        except (KeyError, TypeError, ValueError):
            raise CheckError(f"iperf3 {kind} output without the expected summary: {out[:200]!r}") from None
