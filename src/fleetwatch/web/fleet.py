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

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Case, CharField, Count, F, IntegerField, Q, QuerySet, Value, When

from fleetwatch.core import params
from fleetwatch.core.params import InvalidParameter
from fleetwatch.inventory.models import Device, Organization
from fleetwatch.monitoring.models import HealthStatus
from fleetwatch.web import channels

PER_PAGE = 50
ATTENTION = 10  # rows of the "needs attention" list (critical first, then problem)
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


def status_filter(status: str) -> Q:
    """The devices whose health status is ``status`` (rule in the module's docstring); the
    conditions use the columns themselves, so the database can use their indexes."""
    if status == HealthStatus.DEACTIVATED:
        return Q(is_active=False)
    if status == HealthStatus.UNKNOWN:
        return Q(is_active=True) & (Q(health__isnull=True) | Q(health__status=HealthStatus.UNKNOWN))
    return Q(is_active=True, health__status=status)


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


def visible_devices(user) -> QuerySet:
    """The devices of the user's organizations, without the ``DISTINCT`` of
    ``Device.objects.visible_to`` (an ``IN`` subquery of the organizations instead: with
    100,000 devices, ``DISTINCT`` made every page sort the whole fleet)."""
    if user.is_superuser:
        return Device.objects.all()
    return Device.objects.filter(organization__in=Organization.objects.visible_to(user).values("pk"))


def search(devices: QuerySet, query: str) -> QuerySet:
    """``q``: part of the name, MAC address (``44:d1``, ``44-D1``), management IP, serial, or
    the location's name or address."""
    mac = query.replace("-", ":").lower()
    return devices.filter(
        Q(name__icontains=query)
        | Q(mac_address__icontains=mac)
        | Q(management_ip__icontains=query)
        | Q(serial__icontains=query)
        | Q(location__name__icontains=query)
        | Q(location__address__icontains=query)
    )


def overview(devices: QuerySet) -> dict[str, int]:
    """``{status: number of devices}`` for every status of :data:`SEVERITY` (zeros included),
    counted by one aggregate query."""
    counts = devices.aggregate(**{s.value: Count("pk", filter=status_filter(s)) for s in SEVERITY})
    return {s.value: counts[s.value] for s in SEVERITY}


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

    fleet = visible_devices(request.user)
    if org:
        fleet = fleet.filter(organization__slug=org)
    counts = overview(fleet)
    attention = list(
        fleet.filter(is_active=True, health__status__in=(HealthStatus.CRITICAL, HealthStatus.PROBLEM))
        .select_related("organization", "health")
        .annotate(severity=severity())
        .order_by("severity", "name", "pk")[:ATTENTION]
    )
    for device in attention:
        device.health_status = device.health.status

    devices = fleet
    if query:
        devices = search(devices, query)
    if status:
        devices = devices.filter(status_filter(status))
    devices = channels.filter_fleet(devices, channel, state)
    if sort.key == "status":
        devices = devices.annotate(severity=severity())
    devices = (
        devices.select_related("organization", "health", "channel")
        .annotate(health_state=health_state())
        .order_by(*sort.order_by())
    )
    paginator = Paginator(devices, PER_PAGE)
    if not (query or channel or state):
        # The overview has counted these already: no second scan of the fleet.
        paginator.count = counts[status] if status else sum(counts.values())
    page = paginator.get_page(data.get("page"))
    for device in page.object_list:
        device.health_status = device.health_state
        device.connection = channels.connection(device)

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
