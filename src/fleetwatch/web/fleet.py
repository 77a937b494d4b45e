"""The fleet list (``/``) at the size of a country's network: one page of devices, sorted,
searched and filtered in the database, with an overview of the fleet's health.

What one request reads (issue 18, point 5: p95 ≤ 100 ms with 100,000 devices on SQLite;
``bench/fleet.py`` measures it): the overview's counts per health status (one aggregate query),
the devices needing attention (at most :data:`ATTENTION` rows), the page's rows
(:data:`PER_PAGE`, with their organization, health and channel joined) and, when a filter
narrows the list beyond what the overview already counts, the number of matching rows. No
request holds more than one page of devices in memory.

Query parameters, all kept by the page's links (sort headers, pages, overview):

- ``q``: part of the name, MAC address, management IP address, serial, or the location's name
  or address (case-insensitive);
- ``status``: ``unknown``, ``ok``, ``problem``, ``critical`` or ``deactivated``;
- ``org`` (an organization's slug), ``channel`` and ``connection`` (``web/channels.py``);
- ``sort``: one of :data:`SORTS`' keys, ``-`` in front for the reverse order (default ``name``);
- ``page``: a page number (out of range: the last page; not a number: the first).

A malformed value (an unknown status or sort, a control character) is a 400.

The health status is not a column: ``deactivated`` when the device is inactive, else its
:class:`~fleetwatch.monitoring.models.DeviceHealth` status, ``unknown`` without one (as
:func:`fleetwatch.inventory.api.serializers.health_status` says of one device). Here it is the
same rule in SQL (:func:`health_state`), so filters, counts and sorting agree with the rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Case, CharField, Count, F, IntegerField, Q, QuerySet, Value, When
from django.urls import reverse

from fleetwatch.core import params
from fleetwatch.core.params import InvalidParameter
from fleetwatch.inventory.models import Device, Location, Organization
from fleetwatch.monitoring.models import DeviceHealth, HealthStatus
from fleetwatch.web import channels

PER_PAGE = 50
ATTENTION = 10  # rows of the "needs attention" list (critical first, then problem)
OVERVIEW_SECONDS = 10  # how long the overview's counts are reused (cached_overview)
# Worst first: the order of the status sort and of the overview.
SEVERITY = (
    HealthStatus.CRITICAL,
    HealthStatus.PROBLEM,
    HealthStatus.UNKNOWN,
    HealthStatus.OK,
    HealthStatus.DEACTIVATED,
)
# ``sort`` values → the columns ordered by (the primary key last: pages are stable).
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "pk"),
    "organization": ("organization__name", "name", "pk"),
    "status": ("severity", "name", "pk"),
    "last_seen": ("last_seen", "pk"),
    "mac": ("mac_address", "pk"),
}
DEFAULT_SORT = "name"
# ``is_active`` as comparisons: Django writes ``is_active=False`` as ``NOT "is_active"``, which
# SQLite cannot look up in an index (a scan of 100,000 rows: 9 ms of CPU), ``"is_active" < 1``
# it can (0.2 ms).
ACTIVE = Q(is_active__gt=False)
INACTIVE = Q(is_active__lt=True)


def status_filter(status: str) -> Q:
    """The devices whose health status is ``status`` (rule in the module's docstring); the
    conditions use the columns themselves, so the database can use their indexes."""
    if status == HealthStatus.DEACTIVATED:
        return INACTIVE
    if status == HealthStatus.UNKNOWN:
        return ACTIVE & (Q(health__isnull=True) | Q(health__status=HealthStatus.UNKNOWN))
    return ACTIVE & Q(health__status=status)


def health_state():
    """The health status as an SQL expression (for the rows' ``health_state``)."""
    return Case(
        When(is_active=False, then=Value(HealthStatus.DEACTIVATED)),
        When(health__status__isnull=True, then=Value(HealthStatus.UNKNOWN)),
        default=F("health__status"),
        output_field=CharField(),
    )


def severity():
    """Rank of the health status in :data:`SEVERITY` (0: critical), for the status sort."""
    return Case(
        *(When(status_filter(s), then=Value(rank)) for rank, s in enumerate(SEVERITY)),
        default=Value(len(SEVERITY)),
        output_field=IntegerField(),
    )


def visible_devices(user) -> tuple[dict, str]:
    """The filters of the devices of the user's organizations, without the ``DISTINCT`` of
    ``Device.objects.visible_to`` (the organizations' ids instead: with 100,000 devices,
    ``DISTINCT`` made every page sort the whole fleet); and a text naming that scope (the
    overview's cache key)."""
    if user.is_superuser:
        return {}, "all"
    ids = sorted(str(pk) for pk in Organization.objects.visible_to(user).values_list("pk", flat=True))
    return {"organization__in": ids}, ",".join(ids)


def search(devices: QuerySet, query: str) -> QuerySet:
    """``q``: part of the name, MAC address (``44:d1``, ``44-D1``), management IP, serial, or
    the location's name or address."""
    mac = query.replace("-", ":").lower()
    # The matching locations are a subquery of their own (a few thousand rows), not a join of
    # every device to its location.
    locations = Location.objects.filter(Q(name__icontains=query) | Q(address__icontains=query))
    return devices.filter(
        Q(name__icontains=query)
        | Q(mac_address__icontains=mac)
        | Q(management_ip__icontains=query)
        | Q(serial__icontains=query)
        | Q(location__in=locations.values("pk"))
    )


def overview(devices: QuerySet) -> dict[str, int]:
    """``{status: number of devices}`` for every status of :data:`SEVERITY` (zeros included).

    Counted without joining every device to its health row (that join alone took 250 ms at
    100,000 devices on SQLite): the devices and the inactive ones are counted on their indexes,
    the health rows of the active devices grouped by status on theirs (one query when the
    devices are not narrowed to some organizations, the inactive ones' rows subtracted); the
    devices without a row are ``unknown``."""
    total = devices.count()
    deactivated = devices.filter(INACTIVE).count()
    if devices.query.where:
        rows = DeviceHealth.objects.filter(device__in=devices.filter(ACTIVE).values("pk"))
        active = _by_status(rows)
    else:
        active = _by_status(DeviceHealth.objects.all())
        inactive = _by_status(DeviceHealth.objects.filter(device__in=devices.filter(INACTIVE).values("pk")))
        active = {s: n - inactive.get(s, 0) for s, n in active.items()}
    counts = {s.value: active.get(s.value, 0) for s in SEVERITY}
    counts[HealthStatus.DEACTIVATED] = deactivated
    counts[HealthStatus.UNKNOWN] = (
        total
        - deactivated
        - sum(active.get(s, 0) for s in (HealthStatus.OK, HealthStatus.PROBLEM, HealthStatus.CRITICAL))
    )
    return counts


def _by_status(rows: QuerySet) -> dict[str, int]:
    return dict(rows.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


def cached_overview(devices: QuerySet, scope: str) -> dict[str, int]:
    """:func:`overview` of the whole fleet (``scope`` ``"all"``: a superuser's, unfiltered),
    counted afresh; of some organizations, kept :data:`OVERVIEW_SECONDS` in Django's cache
    under ``scope`` (the organizations the counts cover): counting 100,000 devices of one
    organization takes about 150 ms on SQLite (their health rows are joined), so that overview
    may be that many seconds old. The rows of the list, the needs-attention list and the
    number of pages never are."""
    if scope == "all":
        return overview(devices)
    key = "fleetwatch.web.fleet.overview:" + hashlib.sha256(scope.encode()).hexdigest()
    counts = cache.get(key)
    if counts is None:
        counts = overview(devices)
        cache.set(key, counts, OVERVIEW_SECONDS)
    return counts


def attention_list(within: dict) -> list[Device]:
    """The first :data:`ATTENTION` devices needing attention: the critical ones, then those
    with a problem, each the longest in that state first. ``within``: filters of the devices
    (``{"organization__in": [...]}``…). Read by walking the health rows' index (status,
    changed) and joining each row's device, so the query stops after a few rows however many
    devices are critical (an ``IN`` list of the fleet's active devices took 60 ms and more)."""
    found: list[Device] = []
    device_filters = {"device__" + name: value for name, value in within.items()}
    for status in (HealthStatus.CRITICAL, HealthStatus.PROBLEM):
        if len(found) == ATTENTION:
            break
        rows = (
            DeviceHealth.objects.filter(status=status, device__is_active=True, **device_filters)
            .select_related("device__organization")
            .order_by("changed", "device")[: ATTENTION - len(found)]
        )
        for health in rows:
            device = health.device
            device.health = health  # the template's "since"
            device.health_status = status
            found.append(device)
    return found


def organization_page(devices: QuerySet, descending: bool, offset: int, limit: int) -> list:
    """The ids of ``devices`` from ``offset`` (``limit`` of them) in the order of their
    organization's name, then their name: the organizations (a few rows) are ordered here and
    each one's devices read from the (organization, name, id) index, instead of sorting every
    device joined to its organization."""
    sizes = dict(devices.order_by().values_list("organization").annotate(n=Count("pk")))
    organizations = (
        Organization.objects.filter(pk__in=sizes).order_by("name", "pk").values_list("pk", flat=True)
    )
    order = ("name", "pk")
    if descending:
        organizations, order = organizations.reverse(), ("-name", "-pk")
    ids: list = []
    start = 0
    for organization in organizations:
        size = sizes[organization]
        if start + size > offset and len(ids) < limit:
            begin = max(0, offset - start)
            rows = devices.filter(organization=organization).order_by(*order).values_list("pk", flat=True)
            ids.extend(rows[begin : begin + limit - len(ids)])
        start += size
    return ids


class OrganizationOrder:
    """A list-like of ``devices`` ids in the organization sort for the Paginator: its length
    is the number of devices, its slices are :func:`organization_page`."""

    def __init__(self, devices: QuerySet, descending: bool):
        self.devices, self.descending = devices, descending

    def count(self) -> int:
        return self.devices.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item: slice) -> list:
        return organization_page(
            self.devices, self.descending, item.start or 0, item.stop - (item.start or 0)
        )


@dataclass
class Sort:
    """The ``sort`` parameter: ``key`` (a :data:`SORTS` key) and the direction."""

    key: str
    descending: bool

    @classmethod
    def parse(cls, data) -> Sort:
        value = params.text(data, "sort").strip() or DEFAULT_SORT
        key = value.removeprefix("-")
        if key not in SORTS:
            choices = ", ".join(SORTS)
            raise InvalidParameter("sort", f"one of {choices}, with - in front for the reverse order")
        return cls(key, value.startswith("-"))

    @property
    def value(self) -> str:
        return ("-" if self.descending else "") + self.key

    def order_by(self) -> list:
        columns = SORTS[self.key]
        if not self.descending:
            return list(columns)
        return [c[1:] if c.startswith("-") else "-" + c for c in columns]

    def toggled(self, key: str) -> str:
        """The ``sort`` value of a column header: its own key, reversed if it is the current one."""
        return "-" + key if key == self.key and not self.descending else key


def fleet_page(request) -> dict:
    """The fleet page's context: ``overview`` (counts per status), ``attention`` (critical,
    then problem devices), ``page`` (a Django :class:`~django.core.paginator.Page` of
    devices with ``health_status`` and ``connection``), the filters as given, and ``links``
    (query strings of the sort headers, the pages and the overview's statuses)."""
    data = request.GET
    query = params.text(data, "q").strip()
    org = params.slug(data, "org")
    status = params.text(data, "status")
    if status and status not in HealthStatus.values:
        raise InvalidParameter("status", f"one of {', '.join(HealthStatus.values)}")
    channel, state = channels.fleet_filters(data)
    sort = Sort.parse(data)

    within, scope = visible_devices(request.user)
    if org:
        within["organization__slug"] = org
        scope += ";org=" + org
    fleet = Device.objects.filter(**within)
    counts = cached_overview(fleet, scope)
    attention = attention_list(within)

    devices = fleet
    if query:
        devices = search(devices, query)
    if status:
        devices = devices.filter(status_filter(status))
    devices = channels.filter_fleet(devices, channel, state)
    if sort.key == "status":
        devices = devices.annotate(severity=severity())
    # The page's ids first (walking an index that covers the sort and the organization), then
    # its rows with what they join: the joins are made for PER_PAGE rows, not for every row
    # skipped before the page.
    if sort.key == "organization":
        ordered = OrganizationOrder(devices, sort.descending)
    else:
        ordered = devices.order_by(*sort.order_by()).values_list("pk", flat=True)
    paginator = Paginator(ordered, PER_PAGE)
    if scope == "all" and not (query or channel or state):
        # counted afresh by the overview: no second count
        paginator.count = counts[status] if status else sum(counts.values())
    page = paginator.get_page(data.get("page"))
    rows = Device.objects.filter(pk__in=list(page.object_list)).select_related(
        "organization", "health", "channel"
    )
    by_pk = {device.pk: device for device in rows.annotate(health_state=health_state())}
    page.object_list = [by_pk[pk] for pk in page.object_list if pk in by_pk]
    # One reverse() for the page, not one per row (50 of them were a tenth of the page's time).
    zero = "00000000-0000-0000-0000-000000000000"
    device_url = reverse("web:device", args=[zero])
    for device in page.object_list:
        device.health_status = device.health_state
        device.connection = channels.connection(device)
        device.url = device_url.replace(zero, str(device.pk))

    kept = {"q": query, "status": status, "org": org, "channel": channel, "connection": state}
    urls = links(kept, sort, page)
    return {
        "overview": [(s.value, counts[s], urls["status"][s.value]) for s in SEVERITY],
        "fleet_total": sum(counts.values()),
        "attention": attention,
        "attention_more": counts[HealthStatus.CRITICAL] + counts[HealthStatus.PROBLEM] > len(attention),
        "page": page,
        "devices": page.object_list,
        "query": query,
        "org": org,
        "status": status,
        "sort": sort,
        "channel": channel,
        "connection": state,
        "links": urls,
    }


def _query_string(values: dict) -> str:
    return "?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})


def links(kept: dict, sort: Sort, page: Page) -> dict:
    """Query strings that keep the filters: ``sort[<key>]`` for each column header (back to
    page 1), ``page[<n>]`` for the first, previous, next and last pages, ``status[<status>]``
    for the overview (the other filters kept, back to page 1)."""
    current = sort.value if sort.value != DEFAULT_SORT else ""
    result = {
        "sort": {key: _query_string({**kept, "sort": sort.toggled(key)}) for key in SORTS},
        "page": {},
        "status": {s.value: _query_string({**kept, "status": s.value, "sort": current}) for s in SEVERITY},
        "all": _query_string({**kept, "status": "", "sort": current}),
    }
    numbers = {"first": 1, "last": page.paginator.num_pages}
    if page.has_previous():
        numbers["previous"] = page.previous_page_number()
    if page.has_next():
        numbers["next"] = page.next_page_number()
    for name, number in numbers.items():
        result["page"][name] = _query_string({**kept, "sort": current, "page": number if number > 1 else ""})
    return result
