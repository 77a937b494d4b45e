"""What the sender collects: exactly these facts, with the payload's action names, and nothing
that could identify the deployment (issue 16, reference usage-metrics C.3)."""

from __future__ import annotations

import json
import platform
import re
import socket
from importlib import metadata
from pathlib import Path

import pytest

import fleetwatch
from fleetwatch.usage import payload
from fleetwatch.usage.sender import facts

MODULES = {
    "fleetwatch.api": "0.1.0",
    "fleetwatch.backups": "0.1.0",
    "fleetwatch.core": "0.1.0",
    "fleetwatch.inventory": "0.1.0",
    "fleetwatch.messaging": "0.1.0",
    "fleetwatch.monitoring": "0.1.0",
    "fleetwatch.notifications": "0.1.0",
    "fleetwatch.protocols": "0.1.0",
    "fleetwatch.usage": "0.1.0",
    "fleetwatch.web": "0.1.0",
}


@pytest.fixture
def machine(monkeypatch, settings, tmp_path):
    """A fixed OS, kernel and platform; the agent's distribution installed as 0.3.1."""
    monkeypatch.setattr(
        platform, "freedesktop_os_release", lambda: {"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"}
    )
    monkeypatch.setattr(platform, "release", lambda: "6.1.0-18-amd64")
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    real_version = metadata.version

    def version(name):
        return "0.3.1" if name == "fleetwatch-agent" else real_version(name)

    monkeypatch.setattr(metadata, "version", version)
    monkeypatch.setattr(fleetwatch, "__version__", "0.1.0")
    settings.TIMESERIES_DATABASE = f"sqlite:///{tmp_path / 'ts.sqlite3'}"
    settings.FLEETWATCH_INSTALL_METHOD = "unspecified"


def test_the_facts_are_exactly_these(machine):
    assert facts.facts("0b6a1a3c-5f0e-4d4e-9a59-2b8f4f6f2c11") == [
        ("Fleetwatch Version", "0.1.0"),
        *MODULES.items(),
        ("fleetwatch-agent", "0.3.1"),
        ("os_version", "Debian GNU/Linux 12 (bookworm)"),
        ("kernel_version", "6.1.0"),
        ("hardware_platform", "x86_64"),
        ("Installation Method", "unspecified"),
        ("Time-series Backend", "sqlite"),
        ("Instance ID", "0b6a1a3c-5f0e-4d4e-9a59-2b8f4f6f2c11"),
    ]


def test_versions_are_what_installs_and_upgrades_are_detected_on(machine):
    assert facts.versions() == {
        "Fleetwatch Version": "0.1.0",
        **MODULES,
        "fleetwatch-agent": "0.3.1",
        "os_version": "Debian GNU/Linux 12 (bookworm)",
        "kernel_version": "6.1.0",
        "hardware_platform": "x86_64",
    }


def test_without_the_agent_distribution_it_is_not_listed(machine, monkeypatch):
    def version(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", version)
    assert facts.modules() == MODULES


def test_os_without_an_os_release_file(machine, monkeypatch):
    def missing():
        raise OSError("no os-release")

    monkeypatch.setattr(platform, "freedesktop_os_release", missing)
    monkeypatch.setattr(platform, "system", lambda: "FreeBSD")
    monkeypatch.setattr(platform, "release", lambda: "14.0-RELEASE")
    assert (facts.os_version(), facts.kernel_version()) == ("FreeBSD", "14.0")


@pytest.mark.parametrize(
    ("configured", "name"),
    [
        ("postgresql://fw:secret@127.0.0.1:5432/ts", "postgresql"),
        ("postgres://fw:secret@127.0.0.1:5432/ts", "postgresql"),
        ("influxdb://127.0.0.1:8086/fleetwatch", "influxdb"),
        ("influxdb2://127.0.0.1:8086/fleetwatch", "influxdb2"),
        ("elasticsearch://127.0.0.1:9200/fleetwatch", "elasticsearch"),
        ({"BACKEND": "sqlite", "NAME": ":memory:"}, "sqlite"),
        ({"BACKEND": "acme.private.tsdb", "NAME": "x"}, "other"),
    ],
)
def test_the_backend_is_named_never_its_address(settings, configured, name):
    settings.TIMESERIES_DATABASE = configured
    assert facts.timeseries_backend() == name


def test_the_install_method_is_the_setting(machine, settings):
    settings.FLEETWATCH_INSTALL_METHOD = "docker"
    assert ("Installation Method", "docker") in facts.facts("x")


def test_nothing_of_the_host_is_sent(machine, settings):
    settings.TIMESERIES_DATABASE = "postgresql://fw:secret@10.1.2.3:5432/ts"
    text = repr(facts.facts("x"))
    for private in (socket.gethostname(), "10.1.2.3", "secret", "fw"):
        assert private not in text


def test_the_example_in_the_docs_is_what_the_sender_builds(machine, monkeypatch, settings):
    """docs/usage-metrics.md's heartbeat, built from the same facts."""

    def version(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", version)
    settings.FLEETWATCH_INSTALL_METHOD = "pip"
    text = (Path(__file__).resolve().parents[2] / "docs" / "usage-metrics.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))
    built = payload.upload(
        1,
        [
            payload.event("Heartbeat", action, name, 1796126400)
            for action, name in facts.facts("0b6a1a3c-5f0e-4d4e-9a59-2b8f4f6f2c11")
        ],
    )
    assert example == built
