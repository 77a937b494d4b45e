"""The datacenter of a backup run, derived from a host's FQDN.

wmfbackups has no datacenter column: it is the second label of the FQDN of the host that took
the backup (``dbprov1002.eqiad.wmnet`` → ``eqiad``; reference A.2, A.4). Other fleets name hosts
otherwise, so the rule is a regular expression with a ``datacenter`` group
(``FLEETWATCH_BACKUP_DATACENTER_PATTERN``); a runner may also give the datacenter outright.
"""

from __future__ import annotations

import re

from django.conf import settings

DEFAULT_PATTERN = r"^[^.]+\.(?P<datacenter>[^.]+)\."


def datacenter_of(host: str | None, pattern: str | None = None) -> str:
    """The datacenter named in ``host`` (a FQDN, optionally ``:port``) by ``pattern`` (default
    the setting), or ``""`` when the host is empty or does not match."""
    if not host:
        return ""
    regex = re.compile(pattern or settings.FLEETWATCH_BACKUP_DATACENTER_PATTERN)
    match = regex.search(host.strip().lower())
    return (match.group("datacenter") or "") if match else ""
