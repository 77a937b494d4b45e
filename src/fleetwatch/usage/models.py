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
