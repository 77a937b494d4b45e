"""The agent's configuration: one TOML file (read with :mod:`tomllib`), every key optional but
``server`` (and ``token`` until the agent has enrolled, or ``device_id`` + ``key``).

Unknown keys are refused (a typo must not silently leave a default in force, least of all
``commands``). docs/agent.md lists every key; its example file is parsed by a test.
"""

from __future__ import annotations

import socket
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

CHANNELS = ("http", "mqtt", "amqp")
DEFAULT_PATH = Path("/etc/fleetwatch-agent.toml")
MACHINE_ID = Path("/etc/machine-id")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the key."""


def default_serial(machine_id: Path = MACHINE_ID) -> str:
    """The machine's identity for enrollment: ``/etc/machine-id`` (systemd's, stable across
    reboots and address changes), else the hostname."""
    try:
        value = machine_id.read_text().strip()
    except OSError:
        value = ""
    return value or socket.gethostname()


@dataclass
class Config:
    """The settings, with their defaults. Units: seconds; sizes in reports (``queue_size``)."""

    server: str = ""  # the Fleetwatch base URL, e.g. "https://fleet.example.org"
    token: str = ""  # an enrollment token (fwe_…), used once to obtain the device's credentials
    serial: str = field(default_factory=default_serial)
    name: str = field(default_factory=socket.gethostname)
    channel: str = "http"
    interval: float = 300.0  # a report every … seconds
    state_dir: Path = Path("/var/lib/fleetwatch-agent")
    queue_size: int = 1000  # unsent reports kept on disk; the oldest is dropped beyond
    timeout: float = 30.0  # of one HTTP request or broker operation
    ca_file: str = ""  # a CA bundle for the server's (or broker's) TLS certificate; "" = the system's
    # Credentials given by hand (a device created in the web UI) instead of enrollment.
    device_id: str = ""
    key: str = ""
    # Remote commands: off unless the machine's owner turns them on here.
    commands: bool = False
    command_timeout: float = 300.0  # an `exec` running longer is killed (ERR)
    logs: list[str] = field(default_factory=list)  # files `logs` may upload
    services: list[str] = field(default_factory=list)  # units `restart` may restart
    restart_command: list[str] = field(default_factory=lambda: ["systemctl", "restart"])
    reboot_command: list[str] = field(default_factory=lambda: ["systemctl", "reboot"])
    # The command poll over HTTP, as the Sensorgnome hub agent: poll_min, ×poll_growth per quiet
    # poll up to poll_max, back to poll_min after a command; poll_offline while unreachable.
    poll_min: float = 90.0
    poll_max: float = 3600.0
    poll_growth: float = 1.5
    poll_offline: float = 10.0
    # Interfaces reported: names matching one of `interfaces` (shell patterns) and none of
    # `skip_interfaces`.
    interfaces: list[str] = field(default_factory=lambda: ["*"])
    skip_interfaces: list[str] = field(default_factory=lambda: ["lo"])

    def validate(self) -> Config:
        """Self, or ConfigError naming the first bad key."""
        if not self.server.startswith(("http://", "https://")):
            raise ConfigError("server: an http:// or https:// URL is required")
        self.server = self.server.rstrip("/")
        if self.channel not in CHANNELS:
            raise ConfigError(f"channel: one of {', '.join(CHANNELS)}, not {self.channel!r}")
        for name in ("interval", "timeout", "command_timeout", "poll_min", "poll_max", "poll_offline"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name}: must be more than 0")
        if self.poll_max < self.poll_min:
            raise ConfigError("poll_max: must not be less than poll_min")
        if self.poll_growth < 1:
            raise ConfigError("poll_growth: must be at least 1")
        if self.queue_size < 1:
            raise ConfigError("queue_size: must be at least 1")
        if bool(self.device_id) != bool(self.key):
            raise ConfigError("device_id and key: give both or neither")
        if not self.serial:
            raise ConfigError("serial: must not be empty")
        for name in ("restart_command", "reboot_command"):
            if not getattr(self, name):
                raise ConfigError(f"{name}: must not be empty")
        return self


_TYPES = {
    "str": (str,),
    "float": (int, float),
    "int": (int,),
    "bool": (bool,),
    "Path": (str,),
    "list[str]": (list,),
}


def parse(text: str, base: Path | None = None) -> Config:
    """A Config from TOML text; ``state_dir`` relative to ``base`` (the file's folder) if given.
    ConfigError for invalid TOML, an unknown key or a value of the wrong type."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    known = {f.name: f for f in fields(Config)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{key}: unknown key")
        kind = known[key].type
        accepted = _TYPES[kind]
        if not isinstance(value, accepted) or (kind in ("float", "int") and isinstance(value, bool)):
            raise ConfigError(f"{key}: expected {kind}, got {type(value).__name__}")
        if kind == "list[str]" and not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key}: expected a list of strings")
        if kind == "Path":
            value = Path(value).expanduser()
            if base is not None and not value.is_absolute():
                value = base / value
        if kind == "float":
            value = float(value)
        values[key] = value
    return Config(**values).validate()


def load(path: Path) -> Config:
    """The configuration file at ``path`` (ConfigError if unreadable or invalid)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    return parse(text, base=path.parent)
