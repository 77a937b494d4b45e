"""Usage metrics: what the collector keeps (and, below it, the sender's own state).

The collector keeps days, never seconds, and no address or header (the issue: "low resolution
by design"). ``Report`` is the record of what was accepted; ``Instance``, ``ActivePeriod`` and
``DailyTally`` are maintained beside it at ingest (``collector/ingest.py``) so that every chart
reads a small table, whatever the number of stored events.
"""

from __future__ import annotations

from django.db import models


class Report(models.Model):
    """One accepted group of events: the events of one category in one upload.

    ``day`` is the UTC date of the events' ``period_start`` (the only time kept). ``instance`` is
    the ``"Instance ID"`` event's name ('' for uploads without one, e.g. OpenWISP's). The
    snapshot columns are read from the events (``payload.py`` action names). ``digest`` makes
    re-sends duplicates: with an instance id it covers the content without timestamps (one report
    per category and content a day, as the sender promises); without one it also covers the
    timestamps (a re-send repeats them, a twin deployment with the same versions does not).
    ``events`` keeps what was sent: ``[{"action", "name", "value", "times"}, ...]``."""

    day = models.DateField()
    category = models.CharField(max_length=50)
    instance = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64)
    site = models.PositiveIntegerField()
    product = models.CharField(max_length=50, blank=True)
    version = models.CharField(max_length=100, blank=True)
    install_method = models.CharField(max_length=100, blank=True)
    os = models.CharField(max_length=100, blank=True)
    kernel = models.CharField(max_length=100, blank=True)
    platform = models.CharField(max_length=100, blank=True)
    backend = models.CharField(max_length=100, blank=True)
    events = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["category", "digest", "day"], name="usage_report_once")
        ]
        indexes = [
            models.Index(fields=["category", "day"]),
            models.Index(fields=["instance", "day"]),
        ]

    def __str__(self):
        return f"{self.category} {self.day} {self.instance or 'anonymous'}"


class Instance(models.Model):
    """One deployment that sent an instance id. ``installed_on``: the day of its Install report
    (None if none arrived); ``first_seen``/``last_seen``: its first report of any kind and its
    last active one (Install, Upgrade, Heartbeat); ``withdrawn_on``: its Consent Withdrawn. Kept
    by min/max, so the order reports arrive in does not matter."""

    instance = models.CharField(max_length=64, unique=True)
    product = models.CharField(max_length=50, blank=True)
    installed_on = models.DateField(null=True, blank=True)
    first_seen = models.DateField()
    last_seen = models.DateField(null=True, blank=True)
    withdrawn_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["installed_on"]), models.Index(fields=["first_seen"])]

    def __str__(self):
        return self.instance

    @property
    def cohort_day(self):
        """The day its cohort counts from: its install, or its first report if no Install came."""
        return self.installed_on or self.first_seen


class Period(models.TextChoices):
    WEEK = "week", "Week"  # ISO weeks, from Monday
    MONTH = "month", "Month"


class ActivePeriod(models.Model):
    """An instance active in one week or month (it sent an Install, Upgrade or Heartbeat), with
    the snapshot of its latest report in that period. ``latest`` orders reports independently of
    arrival: ``"<day>|<category rank>|<digest>"`` (Install < Heartbeat < Upgrade on one day, as an
    Upgrade carries the day's newest versions)."""

    instance = models.CharField(max_length=64)
    period = models.CharField(max_length=5, choices=Period.choices)
    start = models.DateField()
    latest = models.CharField(max_length=80)
    product = models.CharField(max_length=50, blank=True)
    version = models.CharField(max_length=100, blank=True)
    install_method = models.CharField(max_length=100, blank=True)
    os = models.CharField(max_length=100, blank=True)
    backend = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "period", "start"], name="usage_active_once"),
        ]
        indexes = [models.Index(fields=["period", "start", "version"])]

    def __str__(self):
        return f"{self.instance} {self.period} {self.start}"


class DailyTally(models.Model):
    """How many reports arrived per day, category and snapshot; ``anonymous``: without an
    instance id. Incremented once per new ``Report``: counts of installs, upgrades and of
    anonymous heartbeats read this small table."""

    day = models.DateField()
    category = models.CharField(max_length=50)
    anonymous = models.BooleanField()
    product = models.CharField(max_length=50, blank=True)
    version = models.CharField(max_length=100, blank=True)
    install_method = models.CharField(max_length=100, blank=True)
    os = models.CharField(max_length=100, blank=True)
    backend = models.CharField(max_length=100, blank=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "category",
                    "anonymous",
                    "product",
                    "version",
                    "install_method",
                    "os",
                    "backend",
                ],
                name="usage_tally_once",
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.category} ×{self.count}"


# ---------------------------------------------------------------------------- the sender's state
# What Fleetwatch keeps about its own reports (sender/, reference usage-metrics C.2, C.7): the
# operator's consent, the versions last reported, what was sent each day, and what is still
# waiting to be delivered.


class Consent(models.Model):
    """The deployment's answer about usage metrics: one row (pk 1, ``Consent.load()``).

    Opt-out (C.2): ``user_consented`` starts true. ``shown_once``: the one-time notice was shown
    to a superuser. ``instance_id``: a random UUID4 (``uuid.uuid4()``, never derived from the
    hardware, host name or addresses) made with the row at install; emptied when consent is
    withdrawn, and a new one is made when consent is given again, so the two periods cannot be
    joined by the collector."""

    SINGLETON = 1

    user_consented = models.BooleanField(
        default=True,
        verbose_name="Help improve Fleetwatch by sending anonymous usage metrics",
    )
    shown_once = models.BooleanField(default=False)
    instance_id = models.CharField(max_length=36, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    def __str__(self):
        return "consented" if self.user_consented else "withdrawn"

    @classmethod
    def load(cls) -> Consent:
        """The row, made on first use with a new instance id."""
        consent, _ = cls.objects.get_or_create(pk=cls.SINGLETON, defaults={"instance_id": new_instance_id()})
        return consent


def new_instance_id() -> str:
    """A random UUID4 as text: nothing of this machine goes into it."""
    import uuid

    return str(uuid.uuid4())


class VersionSnapshot(models.Model):
    """The versions reported by an Install or Upgrade (C.2): ``versions`` maps the payload's
    action names (Fleetwatch's version, each module, the OS keys) to their values. A row is
    written only when something was installed or upgraded; the newest is the reference the next
    run compares with."""

    created = models.DateTimeField(auto_now_add=True)
    versions = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created", "-id"]
        get_latest_by = ["created", "id"]

    def __str__(self):
        return f"snapshot {self.created:%Y-%m-%d %H:%M}"


class SentEvent(models.Model):
    """A payload taken for sending: at most one per (category, content without timestamps, UTC
    day) (C.7, with the timestamps left out of ``digest``). Written in the transaction that puts
    the payload in the outbox, so two concurrent runs cannot both send it."""

    category = models.CharField(max_length=50)
    digest = models.CharField(max_length=64)
    day = models.DateField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["category", "digest", "day"], name="usage_sent_once")]

    def __str__(self):
        return f"{self.category} {self.day}"


class Outbox(models.Model):
    """A payload not delivered yet (``sender/delivery.py``): ``payload`` is the whole upload
    document; ``attempts`` made so far, the next one not before ``next_attempt``;
    ``last_error`` says why the last one failed. Deleted once delivered, refused (a 4xx) or
    given up (the bound in ``delivery.py``)."""

    category = models.CharField(max_length=50)
    payload = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt"])]

    def __str__(self):
        return f"{self.category} ×{self.attempts}"
