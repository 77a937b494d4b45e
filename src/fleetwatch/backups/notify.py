"""A backup job's check changing state, told through Fleetwatch's notifications: the in-app
notification, e-mail and webhooks (Alertmanager payload, delivery log) that device alerts use
(:func:`fleetwatch.notifications.dispatch.deliver`).

When to tell is decided by :mod:`fleetwatch.backups.checks`; this module says what is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fleetwatch.backups.evaluation import CRITICAL, STATUS_NAMES, WARNING
from fleetwatch.backups.models import CheckKind
from fleetwatch.notifications.dispatch import Audience, deliver
from fleetwatch.notifications.webhooks import alertmanager_payload

# Alertmanager's severity label of a problem status (UNKNOWN: the check could not judge).
SEVERITY = {WARNING: "warning", CRITICAL: "critical"}


@dataclass
class JobEvent:
    """A problem of a job's check (a new one, or a change of its severity) or its recovery.

    ``status`` is the check's Nagios status now (``OK`` for a recovery), ``problem_status`` the
    status of the problem (for a recovery: the one that was told), ``message`` the check's
    message now; ``since`` when the problem began, ``time`` when this was judged."""

    kind: str  # problem | recovery
    check: str  # a CheckKind
    status: int
    problem_status: int
    message: str
    job_id: str
    job_name: str
    section: str
    type: str
    datacenter: str
    organization_id: str
    organization_slug: str
    since: datetime
    time: datetime

    @property
    def url(self) -> str:
        return f"/backups/jobs/{self.job_id}/"

    @property
    def title(self) -> str:
        """``dump of s1 in eqiad: CRITICAL`` (the Icinga service and its state) for the
        freshness/size check; the other checks name themselves:
        ``dump of s1 in eqiad (long-running runs): WARNING``, ``… (schedule): OK``."""
        which = "" if self.check == CheckKind.FRESHNESS else f" ({CheckKind(self.check).label})"
        return f"{self.job_name}{which}: {STATUS_NAMES[self.status]}"

    def notification_fields(self) -> dict:
        return {}  # no device or metric: the URL leads to the job

    def webhook_payload(self, webhook_name: str, base_url: str) -> dict:
        """Alertmanager v4: ``alertname`` ``backup_<check>``, ``severity`` warning/critical/
        unknown (a recovery carries its problem's), the organization, job, job_id, section,
        type, datacenter and check; the fingerprint leaves the severity out, so a WARNING that
        becomes CRITICAL updates the same alert, and its recovery resolves it."""
        identity = {
            "alertname": f"backup_{self.check}",
            "organization": self.organization_slug,
            "job": self.job_name,
            "job_id": self.job_id,
            "section": self.section,
            "type": self.type,
            "datacenter": self.datacenter,
            "check": self.check,
        }
        severity = SEVERITY.get(self.problem_status, "unknown")
        labels = {"alertname": identity["alertname"], "severity": severity, **identity}
        annotations = {
            "summary": self.title,
            "description": self.message,
            "status": STATUS_NAMES[self.status],
        }
        return alertmanager_payload(
            firing=self.kind == "problem",
            labels=labels,
            annotations=annotations,
            group_labels={"alertname": identity["alertname"], "job_id": self.job_id},
            since=self.since,
            time=self.time,
            url=self.url,
            webhook_name=webhook_name,
            base_url=base_url,
            identity=identity,
        )


def tell(
    job,
    check: str,
    status: int,
    message: str,
    *,
    kind: str,
    problem_status: int,
    since: datetime,
    time: datetime,
    audiences: dict | None = None,
) -> JobEvent:
    """Deliver the event of ``job``'s ``check`` (a :class:`CheckKind`), judged ``status`` with
    ``message`` at ``time``, to its organization (``job.organization`` is read); returns it.
    Call inside the transaction that stores the check's state: deliveries are queued on
    commit. ``audiences`` ({organization id: Audience}) is filled and reused across calls, so
    that many events of one organization read its members and webhooks once."""
    organization = job.organization
    event = JobEvent(
        kind=kind,
        check=check,
        status=status,
        problem_status=problem_status,
        message=message,
        job_id=str(job.pk),
        job_name=job.name,
        section=job.section,
        type=job.type,
        datacenter=job.datacenter,
        organization_id=str(organization.pk),
        organization_slug=organization.slug,
        since=since,
        time=time,
    )
    audience = None
    if audiences is not None:
        audience = audiences.get(job.organization_id)
        if audience is None:
            audience = audiences[job.organization_id] = Audience.of(job.organization_id)
    deliver(event, audience)
    return event
