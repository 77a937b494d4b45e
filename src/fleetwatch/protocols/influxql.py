"""InfluxQL statements answered for one organization, on any backend (``/query``'s engine).

``SELECT`` runs through the OpenWISP adapter's executor (``fleetwatch.openwisp.client``), with
three things added: every read is restricted to the token's organization (the
``organization_id`` tag, whatever the statement says); the internal tags (``content_type``,
``object_id``, ``organization_id``, ``location_id``) are hidden and the device's name is offered
as a tag ``host`` instead (``WHERE "host" =~ /^(a|b)$/``, ``GROUP BY "host"``); tag conditions
with ``!=``, ``=~`` and ``!~`` are resolved against the organization's series into lists of values.
``fill()`` and Grafana's intervals (``$__interval``: ``200ms``, ``15s``) are applied here too.

``SHOW`` statements answer from the organization's ``Metric`` rows (measurements, tag keys and
values: the catalog of series, see docs/architecture.md) and, for field keys, from the stored
points themselves.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from fleetwatch.core.timeseries import get_backend
from fleetwatch.inventory.models import Device
from fleetwatch.monitoring.models import Metric
from fleetwatch.openwisp import influxql
from fleetwatch.openwisp.client import BackendHandle, ClientError, DatabaseClient, ResultSet
from fleetwatch.timeseries import ReadQuery

# The tags every device's points carry for Fleetwatch itself: never shown, never filtered on.
INTERNAL_TAGS = ("content_type", "object_id", "organization_id", "location_id")
HOST = "host"
# How many recent points of a measurement SHOW FIELD KEYS reads to learn its fields and types.
FIELD_SAMPLE = 500
# GROUP BY time() buckets a statement may ask for (Grafana's panels ask for at most a few thousand).
MAX_BUCKETS = 50_000
FIELD_TYPES = {bool: "boolean", int: "integer", float: "float", str: "string"}


class NoMatch(Exception):
    """A tag condition no series of the organization satisfies: the statement has no result."""


class Owners:
    """The objects whose points a measurement holds for one organization, by ``object_id``, each
    with the tags it is offered under: a device's ``host``, a backup job's ``job``, ``section``,
    ``type`` and ``datacenter``. ``primary`` is the one shown as a column in raw selects."""

    def __init__(self, tags: dict[str, dict[str, str]], primary: str, scoped_by_tag: bool):
        self.tags = tags
        self.primary = primary
        self.keys = {k for t in tags.values() for k in t} | {primary}
        # Device points carry organization_id; backup runs do not (their jobs' ids scope them).
        self.scoped_by_tag = scoped_by_tag

    def ids(self, group) -> set[str]:
        return {pk for pk, tags in self.tags.items() if any(matches(c, tags.get(c.key)) for c in group)}

    def label(self, object_id: str, key: str) -> str:
        return self.tags.get(object_id, {}).get(key, object_id)


class Catalog:
    """The organization's series: for each measurement, the tag sets of its series (``host`` the
    device's name plus the metric's main tags, as its ``Metric`` rows declare them; the backup
    runs' ``backup_run`` one per backup job)."""

    def __init__(self, organization):
        from fleetwatch.backups.models import BackupJob
        from fleetwatch.backups.series import MEASUREMENT as BACKUP_MEASUREMENT

        self.organization = organization
        self.devices: dict[str, str] = {
            str(pk): name
            for pk, name in Device.objects.filter(organization=organization).values_list("pk", "name")
        }
        self.device_owners = Owners({pk: {HOST: name} for pk, name in self.devices.items()}, HOST, True)
        jobs = {}
        for job in BackupJob.objects.filter(organization=organization):
            tags = {"job": job.name, "section": job.section, "type": job.type}
            if job.datacenter:
                tags["datacenter"] = job.datacenter
            jobs[str(job.pk)] = tags
        self.backup_measurement = BACKUP_MEASUREMENT
        self.job_owners = Owners(jobs, "job", False)
        self.series: dict[str, list[dict[str, str]]] = {}
        rows = (
            Metric.objects.filter(device__organization=organization)
            .values_list("key", "device_id", "main_tags")
            .order_by("key")
        )
        for key, device_id, main_tags in rows:
            tags = {k: str(v) for k, v in (main_tags or {}).items() if k not in INTERNAL_TAGS}
            tags[HOST] = self.devices.get(str(device_id), str(device_id))
            if tags not in self.series.setdefault(key, []):
                self.series[key].append(tags)
        if jobs:
            self.series[BACKUP_MEASUREMENT] = list(jobs.values())

    def owners(self, measurements: list[str]) -> Owners:
        """Whose points the measurements hold (a statement reads devices' or backup jobs', not both)."""
        kinds = {name == self.backup_measurement for name in measurements}
        if len(kinds) > 1:
            raise ClientError(f"{self.backup_measurement} cannot be read with other measurements")
        return self.job_owners if kinds == {True} else self.device_owners

    def measurements(self) -> list[str]:
        return sorted(self.series)

    def tag_keys(self, measurement: str) -> list[str]:
        return sorted({k for tags in self.series.get(measurement, ()) for k in tags})

    def tag_values(self, key: str, measurements: list[str] | None = None) -> set[str]:
        names = measurements or list(self.series)
        return {tags[key] for m in names for tags in self.series.get(m, ()) if key in tags}


def matches(condition: influxql.Condition, value: str | None) -> bool:
    """Whether a tag value satisfies a condition (a missing tag is the empty string, as in InfluxDB)."""
    value = value or ""
    if condition.op == "=":
        return value == str(condition.value)
    if condition.op == "!=":
        return value != str(condition.value)
    if condition.op == "=~":
        return condition.value.search(value) is not None
    if condition.op == "!~":
        return condition.value.search(value) is None
    raise ClientError(f"tags compare with =, !=, =~ and !~, not {condition.op}")


def interval(text: str) -> str:
    """A ``GROUP BY time()`` interval as the storage layer takes it: sub-second intervals (Grafana's
    ``$__interval`` on short ranges) become ``1s``; ``ms``/``u``/``ns`` multiples of a second
    become seconds. Other text is kept (the storage layer checks it)."""
    seconds = influxql.parse_duration(text)
    if seconds < 1:
        return "1s"
    if re.fullmatch(r"\d+(ns|u|µs|ms)", text):
        if seconds != int(seconds):
            raise ClientError(f"GROUP BY time({text}): use whole seconds")
        return f"{int(seconds)}s"
    return text


def fill(series: list[dict], mode: str) -> list[dict]:
    """``fill()`` on the buckets of GROUP BY time() series (the storage layer answers every bucket,
    empty ones ``None``): ``null`` keeps them, ``none`` drops rows without any value, a number
    replaces the gaps, ``previous`` repeats the last value of the column."""
    if mode == "null":
        return series
    out = []
    for entry in series:
        rows = [list(row) for row in entry["values"]]
        if mode == "none":
            rows = [row for row in rows if any(v is not None for v in row[1:])]
        elif mode == "previous":
            last: list[Any] = [None] * len(entry["columns"])
            for row in rows:
                for i in range(1, len(row)):
                    if row[i] is None:
                        row[i] = last[i]
                    else:
                        last[i] = row[i]
        else:
            number = float(mode) if "." in mode or "e" in mode else int(mode)
            rows = [[row[0], *[number if v is None else v for v in row[1:]]] for row in rows]
        if rows:
            out.append({**entry, "values": rows})
    return out


class OrganizationClient(DatabaseClient):
    """The adapter's InfluxQL executor on the project's backend, inside one organization."""

    def __init__(self, organization, catalog: Catalog | None = None):
        # Not DatabaseClient.__init__: that one reads OpenWISP's TIMESERIES_DATABASE dict; this
        # client runs on the project's backend (a URL or a dict), already loaded.
        self.config, self.db_name, self.use_udp, self._policies_set = {}, "fleetwatch", False, set()
        self.organization = organization
        self.catalog = catalog or Catalog(organization)
        self._db = BackendHandle(get_backend())

    # ------------------------------------------------------------------ SELECT

    def select(self, select: influxql.Select, precision: str) -> list[dict]:
        """The series of a SELECT, as InfluxDB's JSON carries them (``name``, ``tags``, ``columns``,
        ``values``). Raises ClientError (a statement error) for what the executor refuses."""
        owners = self.catalog.owners(select.measurements)
        group_tag = select.group_tag
        if group_tag in INTERNAL_TAGS:
            raise ClientError(f'unknown tag "{group_tag}": group by "{owners.primary}" instead')
        if group_tag in owners.keys:
            select = replace(select, group_tag="object_id")
        if select.group_time is not None:
            if select.fill == "linear":
                raise ClientError(
                    "fill(linear) is not supported; use fill(null), fill(none), fill(previous) or fill(<n>)"
                )
            select = replace(select, group_time=interval(select.group_time))
        fields = [item.call.field for item in select.items]
        if not select.is_aggregate and owners.primary in fields:
            select = replace(
                select,
                items=[
                    replace(i, call=replace(i.call, field="object_id"))
                    if i.call.field == owners.primary
                    else i
                    for i in select.items
                ],
            )
        try:
            result = self._execute(select, precision)
        except NoMatch:
            return []
        series = [self._public(entry, owners, group_tag) for entry in result.raw["series"]]
        if group_tag in owners.keys:
            # As InfluxDB orders series: by their tag values (the owners' names, not their ids).
            series.sort(key=lambda entry: (entry["name"], sorted((entry.get("tags") or {}).items())))
        if select.group_time is not None and select.is_aggregate:
            series = fill(series, select.fill)
        return series

    @staticmethod
    def _public(entry: dict, owners: Owners, group_tag: str | None) -> dict:
        """One series with the internal tags hidden and ``object_id`` shown as the owner's tag."""
        entry = dict(entry)
        if entry.get("tags"):
            tags = {}
            for key, value in entry["tags"].items():
                if key == "object_id":
                    shown = group_tag if group_tag in owners.keys else owners.primary
                    tags[shown] = owners.label(value, shown)
                elif key not in INTERNAL_TAGS:
                    tags[key] = value
            entry["tags"] = tags
        columns = entry["columns"]
        if any(c in INTERNAL_TAGS for c in columns):
            keep = [i for i, c in enumerate(columns) if c not in INTERNAL_TAGS or c == "object_id"]
            host = columns.index("object_id") if "object_id" in columns else None
            entry["columns"] = [owners.primary if columns[i] == "object_id" else columns[i] for i in keep]
            entry["values"] = [
                [owners.label(row[i], owners.primary) if i == host and row[i] else row[i] for i in keep]
                for row in entry["values"]
            ]
        return entry

    def _filters(self, select: influxql.Select):
        """(since, until, tag filters, field conditions) with the organization's restriction and
        the owners' tags (``host`` …) and regex conditions resolved to lists of tag values."""
        owners = self.catalog.owners(select.measurements)
        kept, resolved = [], []
        tag_keys = {k for m in select.measurements for k in self.catalog.tag_keys(m)} | owners.keys
        for condition in select.conditions:
            if condition.key in INTERNAL_TAGS:
                raise ClientError(f'unknown tag "{condition.key}": filter by "{owners.primary}"')
            is_tag = condition.key in tag_keys and (
                isinstance(condition.value, str | re.Pattern) or condition.key in owners.keys
            )
            if condition.key == "time" or not is_tag:
                if isinstance(condition.value, re.Pattern):
                    raise ClientError(f'"{condition.key}" is not a tag: regular expressions match tags only')
                kept.append(condition)
            else:
                resolved.append([condition])
        for group in select.alternatives:
            if any(c.key in INTERNAL_TAGS for c in group):
                raise ClientError(f'internal tags cannot be filtered on: filter by "{owners.primary}"')
            resolved.append(group)
        since, until, tags, where = super()._filters(replace(select, conditions=kept, alternatives=[]))
        ids = set(owners.tags) if not owners.scoped_by_tag else None
        for group in resolved:
            key = group[0].key
            if any(c.key != key for c in group):
                raise ClientError("(… OR …) alternatives must all be on the same tag")
            if key in owners.keys:
                ids = owners.ids(group) if ids is None else ids & owners.ids(group)
                continue
            if all(c.op == "=" for c in group):
                values = {str(c.value) for c in group}
            else:
                known = self.catalog.tag_values(key, select.measurements)
                values = {v for v in known if any(matches(c, v) for c in group)}
            if key in tags:
                values &= set(tags[key])
            if not values:
                raise NoMatch
            tags[key] = sorted(values)
        if ids is not None:
            if not ids:
                raise NoMatch
            tags["object_id"] = sorted(ids)
        if owners.scoped_by_tag:
            tags["organization_id"] = [str(self.organization.pk)]
        if select.group_time is not None and select.is_aggregate:
            since = self._bucket_range(select, since, until)
        return since, until, tags, where

    def _bucket_range(self, select: influxql.Select, since, until):
        """The start of a GROUP BY time() range: without a lower bound, the oldest instant the
        tier keeps (not 1970); ClientError past MAX_BUCKETS buckets (a wrong interval or range,
        never a legitimate chart: Grafana asks for at most a few thousand)."""
        tier = "default" if select.retention in (None, "", "autogen", "default") else select.retention
        if since is None:
            since = self.db.retention_floor(tier)
        end = until or self.db.now()
        step = influxql.parse_duration(select.group_time)
        buckets = (end - since).total_seconds() / step
        if buckets > MAX_BUCKETS:
            raise ClientError(
                f"GROUP BY time({select.group_time}) makes {int(buckets)} buckets over the range, more than "
                f"{MAX_BUCKETS}: narrow the time range or widen the interval"
            )
        return since

    # ------------------------------------------------------------------ SHOW

    def show(self, show: influxql.Show, database: str) -> list[dict]:
        """The series of a SHOW statement (see the module docstring for the sources)."""
        if show.what == "databases":
            return [{"name": "databases", "columns": ["name"], "values": [[database]]}]
        if show.what == "retention policies":
            policies = self.get_list_retention_policies()
            columns = ["name", "duration", "shardGroupDuration", "replicaN", "default"]
            return [{"columns": columns, "values": [[p[c] for c in columns] for p in policies]}]
        if show.what == "measurements":
            names = self.catalog.measurements()
            if show.measurement_op == "=":
                names = [n for n in names if n == show.measurement_value]
            elif show.measurement_op == "=~":
                names = [n for n in names if show.measurement_value.search(n)]
            names = [n for n in names if self._series_match(n, show.conditions)]
            names = self._page(names, show)
            return (
                [{"name": "measurements", "columns": ["name"], "values": [[n] for n in names]}]
                if names
                else []
            )
        measurements = show.measurements or self.catalog.measurements()
        out = []
        for name in measurements:
            if show.what == "tag keys":
                values = [[k] for k in self._page(self.catalog.tag_keys(name), show)]
                columns = ["tagKey"]
            elif show.what == "tag values":
                values = [[k, v] for k, v in self._page(self._tag_values(name, show), show)]
                columns = ["key", "value"]
            else:
                values = [[k, t] for k, t in self._page(self._field_keys(name), show)]
                columns = ["fieldKey", "fieldType"]
            if values:
                out.append({"name": name, "columns": columns, "values": values})
        return out

    @staticmethod
    def _page(items: list, show: influxql.Show) -> list:
        items = items[show.offset :]
        return items[: show.limit] if show.limit is not None else items

    def _series_match(self, measurement: str, conditions) -> bool:
        return any(self._tags_match(tags, conditions) for tags in self.catalog.series.get(measurement, ()))

    @staticmethod
    def _tags_match(tags: dict, conditions) -> bool:
        for condition in conditions:
            if condition.key == "time":
                continue  # InfluxDB 1.x ignores time bounds in SHOW statements too
            if condition.key in INTERNAL_TAGS:
                raise ClientError(f'unknown tag "{condition.key}": filter devices by "host"')
            if not matches(condition, tags.get(condition.key)):
                return False
        return True

    def _tag_values(self, measurement: str, show: influxql.Show) -> list[tuple[str, str]]:
        pairs = set()
        for tags in self.catalog.series.get(measurement, ()):
            if not self._tags_match(tags, show.conditions):
                continue
            for key, value in tags.items():
                if show.key_op == "in":
                    chosen = key in show.key_value
                elif show.key_op in ("=~", "!~"):
                    chosen = (show.key_value.search(key) is not None) == (show.key_op == "=~")
                elif show.key_op == "!=":
                    chosen = key != show.key_value
                else:
                    chosen = key == show.key_value
                if chosen:
                    pairs.add((key, value))
        return sorted(pairs)

    def _field_keys(self, measurement: str) -> list[tuple[str, str]]:
        if measurement not in self.catalog.series:
            return []
        owners = self.catalog.owners([measurement])
        scope = (
            {"organization_id": str(self.organization.pk)}
            if owners.scoped_by_tag
            else {"object_id": sorted(owners.tags)}
        )
        query = ReadQuery(
            [measurement],
            fields="*",
            tags=scope,
            order="desc",
            limit=FIELD_SAMPLE,
        )
        types: dict[str, str] = OrderedDict()
        for row in self.db.read(query):
            for key, value in row.fields.items():
                types.setdefault(key, FIELD_TYPES.get(type(value), "string"))
        return sorted(types.items())


__all__ = ["Catalog", "NoMatch", "OrganizationClient", "ResultSet"]
