"""What Fleetwatch reports about itself, and nothing else (issue 16; reference usage-metrics C.3).

Each fact is one ``(action, name)`` pair, the action named as in ``usage/payload.py``:

- ``"Fleetwatch Version"``: ``fleetwatch.__version__``.
- One pair per enabled module: every ``fleetwatch.<app>`` Django app in ``INSTALLED_APPS``
  (an operator's settings may leave some out; the apps ship in one distribution, so each has
  Fleetwatch's version), and ``"fleetwatch-agent"`` when that distribution is installed on the
  server (``importlib.metadata``). A sub-app (``fleetwatch.usage.sender``) is part of its app
  and not listed.
- ``"os_version"``: the distribution's pretty name (``/etc/os-release`` ``PRETTY_NAME``, e.g.
  ``"Debian GNU/Linux 12 (bookworm)"``; elsewhere ``platform.system()``),
  ``"kernel_version"``: the release before its first ``-`` (``"6.1.0-18-amd64"`` → ``"6.1.0"``),
  ``"hardware_platform"``: ``platform.machine()`` (``"x86_64"``).
- ``"Installation Method"``: ``FLEETWATCH_INSTALL_METHOD`` (``"unspecified"`` unless set).
- ``"Time-series Backend"``: the configured backend's built-in name (``"sqlite"``,
  ``"postgresql"``, ``"influxdb"``, ``"influxdb2"``, ``"elasticsearch"``); a backend of the
  operator's own (a dotted path) is ``"other"``, so no module path of theirs is sent.
- ``"Instance ID"``: the random UUID4 of ``usage.models.Consent``.

No host name, address, user, organization or device count is read here.
"""

from __future__ import annotations

import platform
from importlib import metadata

from django.apps import apps
from django.conf import settings

import fleetwatch
from fleetwatch.timeseries.loading import BUILTIN_BACKENDS, configure
from fleetwatch.usage import payload

AGENT_DISTRIBUTION = "fleetwatch-agent"
OS_KEYS = (payload.OS_VERSION, payload.KERNEL_VERSION, payload.HARDWARE_PLATFORM)


def modules() -> dict[str, str]:
    """``{module: version}``: the enabled ``fleetwatch.<app>`` apps sorted by name, then the
    agent if installed."""
    names = sorted(
        config.name
        for config in apps.get_app_configs()
        if config.name.startswith("fleetwatch.") and config.name.count(".") == 1
    )
    found = dict.fromkeys(names, fleetwatch.__version__)
    try:
        found[AGENT_DISTRIBUTION] = metadata.version(AGENT_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    return found


def os_version() -> str:
    """The OS's pretty name; ``platform.system()`` where there is no os-release file."""
    try:
        name = platform.freedesktop_os_release().get("PRETTY_NAME", "")
    except OSError:
        name = ""
    return name or platform.system()


def kernel_version() -> str:
    """The kernel release before its first ``-`` (distribution build suffixes left out)."""
    return platform.release().split("-", 1)[0]


def timeseries_backend() -> str:
    """The time-series backend's built-in name, or ``"other"``."""
    name = configure(settings.TIMESERIES_DATABASE).backend
    return name if name in BUILTIN_BACKENDS else "other"


def versions() -> dict[str, str]:
    """What an Install or Upgrade is detected on (C.2): Fleetwatch's version, the modules' and
    the OS keys, ``{action: value}``."""
    return {
        payload.FLEETWATCH_VERSION: fleetwatch.__version__,
        **modules(),
        payload.OS_VERSION: os_version(),
        payload.KERNEL_VERSION: kernel_version(),
        payload.HARDWARE_PLATFORM: platform.machine(),
    }


def facts(instance_id: str) -> list[tuple[str, str]]:
    """Every ``(action, name)`` one report carries, in the order sent: ``versions()``, the
    installation method, the time-series backend, the instance id."""
    return [
        *versions().items(),
        (payload.INSTALLATION_METHOD, settings.FLEETWATCH_INSTALL_METHOD),
        (payload.TIMESERIES_BACKEND, timeseries_backend()),
        (payload.INSTANCE_ID, instance_id),
    ]
