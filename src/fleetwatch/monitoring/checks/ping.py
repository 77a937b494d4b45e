"""Ping the device's management IP with fping: reachable (0/1), loss (%), round-trip times (ms)."""

from __future__ import annotations

import re
import shutil
import subprocess

from fleetwatch.monitoring.checks.base import BaseCheck, CheckError, Measurement

# fping -q prints to stderr: "10.0.0.1 : xmt/rcv/%loss = 5/5/0%, min/avg/max = 0.41/0.52/0.61"
SUMMARY = re.compile(
    r":\s*xmt/rcv/%loss = (?P<sent>\d+)/(?P<received>\d+)/(?P<loss>\d+(?:\.\d+)?)%"
    r"(?:, min/avg/max = (?P<min>[\d.]+)/(?P<avg>[\d.]+)/(?P<max>[\d.]+))?"
)


def parse_fping(output: str) -> dict:
    match = SUMMARY.search(output)
    if match is None:
        raise CheckError(f"unexpected fping output: {output.strip()[:200]!r}")
    received = int(match["received"])
    fields = {"reachable": 1 if received > 0 else 0, "loss": float(match["loss"])}
    if received > 0 and match["avg"] is not None:
        fields.update(rtt_min=float(match["min"]), rtt_avg=float(match["avg"]), rtt_max=float(match["max"]))
    return fields


class Ping(BaseCheck):
    name = "ping"
    label = "Ping"
    params = {
        "count": (5, 2, 20),  # packets
        "interval": (25, 10, 1000),  # ms between packets
        "bytes": (56, 12, 65508),
        "timeout": (800, 5, 1500),  # ms per packet
    }
    auto = True

    def measure(self) -> list[Measurement]:
        ip = self.device.management_ip
        if not ip:
            return []  # nothing to ping: the status stays unknown
        fping = shutil.which("fping")
        if fping is None:
            raise CheckError("fping is not installed (Debian package fping)")
        o = self.options
        command = [
            fping,
            "-e",
            "-c",
            str(o["count"]),
            "-p",
            str(o["interval"]),
            "-b",
            str(o["bytes"]),
            "-t",
            str(o["timeout"]),
            "-q",
            ip,
        ]
        budget = o["count"] * (o["interval"] + o["timeout"]) / 1000 + 5
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=budget)
        except subprocess.TimeoutExpired:
            raise CheckError(f"fping of {ip} did not finish within {budget:.0f} s") from None
        return [Measurement("ping", parse_fping(done.stderr + done.stdout))]
