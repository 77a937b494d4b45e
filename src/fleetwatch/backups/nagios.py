"""``fleetwatch backup check``: one job's freshness and size check (reference A.4) as a Nagios
plugin answers it, one line and an exit status, so Icinga/Nagios/NRPE call it as they called
wmfbackups' ``check-mariadb-backups``.

The evaluation is the worker's own (:func:`fleetwatch.backups.checks.judge`: A.4 on the job's
last two finished runs, and a newest run that failed is CRITICAL at once), with the job's
thresholds unless the command line overrides them: the command and the worker's checks cannot
disagree. Nothing is stored: a Nagios check only reads.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError, connection
from django.utils import timezone

from fleetwatch.backups.checks import judge, read_inputs
from fleetwatch.backups.evaluation import Result, unknown
from fleetwatch.backups.models import BackupJob, CheckKind
from fleetwatch.inventory.models import Organization


@dataclass(frozen=True)
class Overrides:
    """Thresholds given on the command line instead of the job's: ``freshness`` seconds,
    ``min_size`` bytes, the percentages of the previous run's size. None keeps the job's."""

    freshness: float | None = None
    min_size: int | None = None
    warn_size_percentage: float | None = None
    crit_size_percentage: float | None = None


def check(
    section: str,
    type: str,
    datacenter: str = "",
    organization: str | None = None,
    overrides: Overrides = Overrides(),
    now: datetime | None = None,
) -> Result:
    """The freshness/size result of the job ``type`` of ``section`` in ``datacenter`` (of the
    organization with slug ``organization``; without it, of the one organization that has such
    a job). UNKNOWN, as A.4's rule 1, when the organization, section, datacenter or type is not
    in the monitoring matrix, when the job is ambiguous or inactive, and when the database cannot
    be read."""
    try:
        found = find(section, type, datacenter, organization)
        if isinstance(found, Result):
            return found
        return evaluate(found, now or timezone.now(), overrides)
    except DatabaseError as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            # Run elsewhere than the server (NRPE's own directory, another user): an empty
            # database, not Fleetwatch's. Say where to point it.
            name = connection.settings_dict["NAME"]
            return unknown(
                f"No Fleetwatch database at {name}: run the check with the server's "
                "FLEETWATCH_DATA_DIR (or FLEETWATCH_DATABASE)"
            )
        return unknown(f"Error while querying the backup metadata database: {exc}".splitlines()[0])


def find(section: str, type: str, datacenter: str, organization: str | None) -> BackupJob | Result:
    """The job, or an UNKNOWN result naming what the matrix does not know (checked in the
    original's order: section, datacenter, type)."""
    jobs = BackupJob.objects.select_related("organization").filter(section=section)
    if organization is not None:
        org = Organization.objects.filter(slug=organization).first()
        if org is None:
            return unknown(f"Bad or unrecognized organization: {organization}")
        jobs = jobs.filter(organization=org)
    jobs = list(jobs)
    if not jobs:
        return unknown(f"Bad or unrecognized section: {section}")
    of_type = [job for job in jobs if job.type == type]
    if not of_type:
        return unknown(f"Bad or unrecognized type: {type}")
    jobs = [job for job in of_type if job.datacenter == datacenter]
    if not jobs:
        known = ", ".join(sorted({job.datacenter or "(none)" for job in of_type}))
        return unknown(
            f"Bad or unrecognized datacenter: {datacenter or '(none)'} ({type} of {section} is in: {known})"
        )
    if len(jobs) > 1:
        slugs = ", ".join(sorted(job.organization.slug for job in jobs))
        return unknown(f"{jobs[0].name} is a job of several organizations ({slugs}): give --organization")
    job = jobs[0]
    if not job.is_active:
        return unknown(f"{job.name} is not active: it is not checked")
    return job


def evaluate(job: BackupJob, now: datetime, overrides: Overrides = Overrides()) -> Result:
    """The freshness check of ``job`` at ``now`` exactly as the worker judges it
    (:func:`fleetwatch.backups.checks.judge`: A.4 on the two newest finished runs, and a newest
    run that failed is CRITICAL at once), with the ``overrides`` applied to a copy of the job
    that is never saved."""
    judged = copy.copy(job)
    for name, value in vars(overrides).items():
        if value is not None:
            setattr(judged, name, value)
    return judge(judged, read_inputs([judged], now), now)[CheckKind.FRESHNESS]
