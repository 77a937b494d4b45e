"""A simulated population of deployments reporting usage metrics, for tests, the demo and the
benchmark (``fleetwatch usage simulate``, issue 16).

:class:`Population` draws, from one seed, ``instances`` deployments installed over ``days``
days ending on ``end``: Fleetwatch releases every three to six weeks, an install method, OS,
platform and time-series backend per deployment (shares in the tables below), an upgrade habit
(most upgrade within days or weeks of a release, some never), a lifetime (some stop within their
first two weeks, the rest at a low daily rate) and, for a few, a day they withdraw consent. A
share of them (``anonymous_share``) are OpenWISP deployments: their uploads have OpenWISP's
shape and no instance id.

:meth:`Population.uploads` yields, day after day, the uploads those deployments send, shaped as
the sender shapes them (``payload.upload``/``payload.event``: one event per key, one category
per upload): an ``Install`` on the install day, then one ``Heartbeat`` a day at the deployment's
own time of day, an ``Upgrade`` instead of the heartbeat on a day its version changed, and a
``Consent Withdrawn`` followed by silence. A :class:`Ledger` keeps what was sent, and says what
the collector's tables must then hold (reports per category, instances, active periods,
tallies), independently of ``collector.ingest``.

They are delivered by :func:`post` (HTTP to a collector: keep-alive connections, a 429 waited
out as its ``Retry-After`` says) or :func:`store` (this server's database, through the same
``ingest.parse`` and ``ingest.store`` as the endpoint). The same seed gives the same uploads.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from fleetwatch.usage import payload

FLEETWATCH_SITE = 1
OPENWISP_SITE = 5
# (value, weight): plausible shares, not measured ones.
FLEETWATCH_METHODS = (("pip", 40), ("docker", 30), ("ansible", 15), ("deb", 10), ("source", 5))
OPENWISP_METHODS = (("ansible-openwisp2", 55), ("docker-openwisp", 40), ("unspecified", 5))
SYSTEMS = (  # os_version, kernel_version, weight
    ("Debian GNU/Linux 12 (bookworm)", "6.1.0", 35),
    ("Ubuntu 22.04.4 LTS", "5.15.0", 25),
    ("Ubuntu 24.04.1 LTS", "6.8.0", 20),
    ("Rocky Linux 9.4 (Blue Onyx)", "5.14.0", 8),
    ("Debian GNU/Linux 11 (bullseye)", "5.10.0", 7),
    ("Alpine Linux v3.20", "6.6.0", 5),
)
PLATFORMS = (("x86_64", 85), ("aarch64", 12), ("armv7l", 3))
BACKENDS = (("sqlite", 40), ("postgresql", 35), ("influxdb2", 10), ("elasticsearch", 8), ("influxdb", 7))
# Optional modules of ours and how often they are enabled (each sent as action=module, name=version).
MODULES = (("fleetwatch.backups", 0.5), ("fleetwatch.messaging", 0.3), ("fleetwatch-agent", 0.6))
OPENWISP_MODULES = ("openwisp-utils", "openwisp-users", "openwisp-controller", "openwisp-monitoring")
# Upgrade habits: (weight, mean days from a release to the upgrade; None: never upgrades).
HABITS = ((55, 7.0), (30, 40.0), (15, None))
TRIAL_SHARE = 0.2  # stop within their first two weeks
MEAN_LIFETIME = 400.0  # days, for the others (a constant daily rate)
OPT_OUT_SHARE = 0.05


def _pick(rng: random.Random, choices):
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


@dataclass(frozen=True)
class Release:
    """A version of a product, available from ``day``."""

    day: date
    version: str


def releases(rng: random.Random, first: date, last: date, major: int, minor: int) -> list[Release]:
    """Releases from ``first`` to ``last``: every 21 to 42 days, a minor release, or (one time in
    three) a patch release; the first is ``major.minor.0``."""
    found, day, patch = [], first, 0
    while day <= last:
        found.append(Release(day, f"{major}.{minor}.{patch}"))
        day += timedelta(days=rng.randint(21, 42))
        if rng.random() < 1 / 3:
            patch += 1
        else:
            minor, patch = minor + 1, 0
    return found


@dataclass
class Deployment:
    """One simulated deployment. ``instance`` is '' for an OpenWISP one (its uploads carry no
    instance id). ``last`` is the last day it reports (None: it still does on the end day);
    ``withdraws`` the day it sends Consent Withdrawn (and then nothing). ``changes`` lists the
    days its version changes, ``[(day, version)]``, the first being its install."""

    instance: str
    product: str
    installed: date
    offset: int  # seconds after midnight UTC of its daily heartbeat
    method: str
    os: str
    kernel: str
    platform: str
    backend: str
    modules: tuple[str, ...]
    changes: list[tuple[date, str]]
    last: date | None = None
    withdraws: date | None = None

    def items(self, version: str) -> list[tuple[str, str]]:
        """The (action, name) pairs of an Install, Upgrade or Heartbeat upload."""
        if self.product == "OpenWISP":
            found = [(module, "1.2.0") for module in self.modules]
            found += [
                (payload.OPENWISP_VERSION, version),
                (payload.KERNEL_VERSION, self.kernel),
                (payload.OS_VERSION, self.os),
                (payload.HARDWARE_PLATFORM, self.platform),
                (payload.INSTALLATION_METHOD, self.method),
            ]
            return found
        found = [(payload.FLEETWATCH_VERSION, version)]
        found += [(module, version) for module in self.modules]
        found += [
            (payload.OS_VERSION, self.os),
            (payload.KERNEL_VERSION, self.kernel),
            (payload.HARDWARE_PLATFORM, self.platform),
            (payload.INSTALLATION_METHOD, self.method),
            (payload.TIMESERIES_BACKEND, self.backend),
            (payload.INSTANCE_ID, self.instance),
        ]
        return found


@dataclass(frozen=True)
class Upload:
    """One upload sent: ``body`` is the JSON document; the rest is what the ledger keeps."""

    day: date
    category: str
    deployment: Deployment
    version: str
    body: dict

    @property
    def events(self) -> int:
        """Its number of events, counted as the collector counts them (``times`` summed)."""
        return sum(item["times"] for item in self.body["events"])


class Population:
    """``instances`` deployments installed over the ``days`` days ending on ``end`` (a UTC date,
    default today), drawn from ``seed``; ``anonymous_share`` (0 to 1) of them are OpenWISP's."""

    def __init__(
        self,
        instances: int,
        days: int,
        seed: int = 0,
        anonymous_share: float = 0.15,
        end: date | None = None,
    ):
        if instances < 0 or days < 1:
            raise ValueError("instances must be ≥ 0 and days ≥ 1")
        if not 0 <= anonymous_share <= 1:
            raise ValueError("anonymous_share must be between 0 and 1")
        self.end = end or datetime.now(UTC).date()
        self.start = self.end - timedelta(days=days - 1)
        rng = random.Random(seed)
        # Releases from before the window (so the first installs have a version) to its end.
        self.releases = {
            "Fleetwatch": releases(rng, self.start - timedelta(days=rng.randint(20, 60)), self.end, 1, 0),
            "OpenWISP": releases(rng, self.start - timedelta(days=rng.randint(20, 60)), self.end, 24, 11),
        }
        # Times of day all different (while there are enough seconds): two OpenWISP twins with
        # the same versions would otherwise send identical uploads, which the collector rightly
        # takes for one re-sent upload.
        if instances <= 86400:
            offsets = rng.sample(range(86400), instances)
        else:
            offsets = [rng.randrange(86400) for _ in range(instances)]
        self.deployments = [
            self._deployment(rng, anonymous=rng.random() < anonymous_share, offset=offset)
            for offset in offsets
        ]

    def _deployment(self, rng: random.Random, anonymous: bool, offset: int) -> Deployment:
        installed = self.start + timedelta(days=rng.randrange((self.end - self.start).days + 1))
        system = rng.choices(SYSTEMS, [weight for *_, weight in SYSTEMS])[0]
        if anonymous:
            product, instance, method = "OpenWISP", "", _pick(rng, OPENWISP_METHODS)
            modules = tuple(m for m in OPENWISP_MODULES if m == "openwisp-utils" or rng.random() < 0.7)
        else:
            product, method = "Fleetwatch", _pick(rng, FLEETWATCH_METHODS)
            instance = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            modules = tuple(name for name, share in MODULES if rng.random() < share)
        deployment = Deployment(
            instance=instance,
            product=product,
            installed=installed,
            offset=offset,
            method=method,
            os=system[0],
            kernel=system[1],
            platform=_pick(rng, PLATFORMS),
            backend="" if anonymous else _pick(rng, BACKENDS),
            modules=modules,
            changes=self._changes(rng, self.releases[product], installed),
        )
        if rng.random() < TRIAL_SHARE:
            lifetime = rng.randint(0, 13)
        else:
            lifetime = int(rng.expovariate(1 / MEAN_LIFETIME))
        if installed + timedelta(days=lifetime) < self.end:
            deployment.last = installed + timedelta(days=lifetime)
        if rng.random() < OPT_OUT_SHARE:
            last = deployment.last or self.end
            if last > installed:
                deployment.withdraws = installed + timedelta(days=rng.randint(1, (last - installed).days))
                deployment.last = deployment.withdraws
        return deployment

    def _changes(self, rng: random.Random, known: list[Release], installed: date) -> list[tuple[date, str]]:
        # Installed with the newest release of its day; each later release is taken a habit's
        # draw of days after it comes out (a later one may overtake it: then it is skipped).
        available = [r for r in known if r.day <= installed]
        changes = [(installed, available[-1].version)]
        mean = _pick(rng, [(m, w) for w, m in HABITS])
        if mean is None:
            return changes
        due = sorted(
            (release.day + timedelta(days=int(rng.expovariate(1 / mean)) + 1), n)
            for n, release in enumerate(known)
            if release.day > installed
        )
        newest = len(available) - 1
        for day, n in due:
            if n > newest and day <= self.end:
                newest = n
                if day == changes[-1][0]:
                    changes[-1] = (day, known[n].version)
                else:
                    changes.append((day, known[n].version))
        return changes

    def uploads(self) -> Iterator[Upload]:
        """Every upload of the population, day by day (within a day, by deployment)."""
        pending = sorted(self.deployments, key=lambda d: d.installed)
        running: list[tuple[Deployment, list]] = []
        day = self.start
        while day <= self.end:
            while pending and pending[0].installed == day:
                running.append((pending.pop(0), [0]))
            still = []
            for deployment, where in running:
                yield self._upload(deployment, where, day)
                if deployment.last is None or day < deployment.last:
                    still.append((deployment, where))
            running = still
            day += timedelta(days=1)

    def _upload(self, deployment: Deployment, where: list, day: date) -> Upload:
        at = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) + deployment.offset
        site = OPENWISP_SITE if deployment.product == "OpenWISP" else FLEETWATCH_SITE
        changes, n = deployment.changes, where[0]
        if day == deployment.withdraws:
            items = [(payload.OPT_OUT_ACTION, payload.OPT_OUT_NAME)]
            if deployment.instance:
                items.append((payload.INSTANCE_ID, deployment.instance))
            category, version = payload.CONSENT_WITHDRAWN, changes[n][1]
        else:
            if n + 1 < len(changes) and changes[n + 1][0] <= day:
                where[0] = n = n + 1
                category = payload.UPGRADE
            else:
                category = payload.INSTALL if day == deployment.installed else payload.HEARTBEAT
            version = changes[n][1]
            items = deployment.items(version)
        body = payload.upload(site, [payload.event(category, action, name, at) for action, name in items])
        return Upload(day, category, deployment, version, body)


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month(day: date) -> date:
    return day.replace(day=1)


_RANK = {payload.INSTALL: 0, payload.HEARTBEAT: 1, payload.UPGRADE: 2}


@dataclass
class Ledger:
    """What was sent, and what the collector must therefore hold. Kept by the simulator's own
    rules, not by calling ``collector.ingest``, so a test comparing the two checks the collector.

    ``sent`` has one ``(day, category, instance, product, version, install_method, os, backend)``
    per upload ('' fields where an upload has none: a Consent Withdrawn carries no snapshot)."""

    sent: list[tuple] = field(default_factory=list)

    def add(self, upload: Upload) -> None:
        d = upload.deployment
        if upload.category == payload.CONSENT_WITHDRAWN:
            snapshot = ("", "", "", "", "")
        else:
            snapshot = (d.product, upload.version, d.method, d.os, d.backend)
        self.sent.append((upload.day, upload.category, d.instance, *snapshot))

    def reports(self) -> Counter:
        """Reports per category (each upload is one report: one category, sent once)."""
        return Counter(row[1] for row in self.sent)

    def instances(self) -> dict[str, dict]:
        """Per instance id: ``{"product", "installed_on", "first_seen", "last_seen", "withdrawn_on"}``."""
        found: dict[str, dict] = {}
        for day, category, instance, product, *_ in sorted(self.sent):
            if not instance:
                continue
            row = found.setdefault(
                instance,
                {
                    "product": "",
                    "installed_on": None,
                    "first_seen": day,
                    "last_seen": None,
                    "withdrawn_on": None,
                },
            )
            row["product"] = row["product"] or product
            if category == payload.INSTALL:
                row["installed_on"] = row["installed_on"] or day
            if category in payload.ACTIVE:
                row["last_seen"] = day
            if category == payload.CONSENT_WITHDRAWN:
                row["withdrawn_on"] = day
        return found

    def active(self) -> dict[tuple[str, str, date], tuple]:
        """``(instance, "week"|"month", start) -> (product, version, install_method, os, backend)``
        of the instance's latest active report in that period."""
        found: dict[tuple[str, str, date], tuple] = {}
        rows = [r for r in self.sent if r[2] and r[1] in payload.ACTIVE]
        for day, _category, instance, *snapshot in sorted(rows, key=lambda r: (r[0], _RANK[r[1]])):
            found[(instance, "week", _week(day))] = tuple(snapshot)
            found[(instance, "month", _month(day))] = tuple(snapshot)
        return found

    def tallies(self) -> Counter:
        """Reports per ``(day, category, anonymous, product, version, install_method, os, backend)``."""
        return Counter((day, cat, not inst, *snapshot) for day, cat, inst, *snapshot in self.sent)


@dataclass
class Summary:
    """What a run sent and what became of it: ``categories`` counts uploads per category;
    ``stored``/``duplicates`` count reports (None over HTTP: a 204 does not say which)."""

    instances: int = 0
    anonymous: int = 0
    uploads: int = 0
    events: int = 0
    categories: Counter = field(default_factory=Counter)
    stored: int | None = None
    duplicates: int | None = None
    retried: int = 0  # 429s waited out

    def count(self, upload: Upload) -> None:
        self.uploads += 1
        self.events += upload.events
        self.categories[upload.category] += 1

    def lines(self) -> list[str]:
        """The summary as the command prints it."""
        found = [
            f"deployments: {self.instances} with an instance id, {self.anonymous} anonymous (OpenWISP)",
            f"uploads: {self.uploads} ({self.events} events)",
        ]
        found += [f"  {category}: {self.categories[category]}" for category in payload.CATEGORIES]
        if self.stored is not None:
            found.append(f"stored: {self.stored} reports, {self.duplicates} already stored")
        if self.retried:
            found.append(f"429 answers waited out: {self.retried}")
        return found


def _summary(population: Population) -> Summary:
    anonymous = sum(1 for d in population.deployments if not d.instance)
    return Summary(instances=len(population.deployments) - anonymous, anonymous=anonymous)


def store(population: Population, ledger: Ledger | None = None) -> Summary:
    """Send every upload of ``population`` into this server's database through the endpoint's
    own ``ingest.parse`` and ``ingest.store``; each is also added to ``ledger`` if given."""
    from fleetwatch.usage.collector import ingest

    summary = _summary(population)
    summary.stored = summary.duplicates = 0
    for upload in population.uploads():
        stored, duplicates = ingest.store(ingest.parse(upload.body))
        summary.stored += stored
        summary.duplicates += duplicates
        summary.count(upload)
        if ledger is not None:
            ledger.add(upload)
    return summary


class DeliveryError(RuntimeError):
    """The collector refused an upload (any answer but 204 and 429), or could not be reached."""


COLLECT_PATH = "/api/v1/usage/collect/"


def post(
    population: Population | Iterable[Upload],
    url: str,
    concurrency: int = 4,
    ledger: Ledger | None = None,
    timeout: float = 30,
    wait: Callable[[float], None] = time.sleep,
) -> Summary:
    """POST every upload to the collector at ``url`` (its base URL, or the collect endpoint's
    URL) from ``concurrency`` threads sharing keep-alive connections (urllib3). A 429 is waited
    out for its ``Retry-After`` seconds (1 if absent) and sent again; any other answer but 204
    raises :class:`DeliveryError` after the threads stop. Uploads go in the population's order
    within each thread: the collector's tables do not depend on it."""
    import urllib3

    if not url.rstrip("/").endswith(COLLECT_PATH.rstrip("/")):
        url = url.rstrip("/") + COLLECT_PATH
    summary = _summary(population) if isinstance(population, Population) else Summary()
    uploads = population.uploads() if isinstance(population, Population) else iter(population)
    pool = urllib3.PoolManager(
        maxsize=concurrency,
        block=True,
        # Connection failures only: a 429 is waited out below, any other answer is final.
        retries=urllib3.Retry(
            total=3,
            connect=3,
            read=0,
            redirect=0,
            status=0,
            respect_retry_after_header=False,
            raise_on_status=False,
            allowed_methods=None,
        ),
        timeout=urllib3.Timeout(connect=5, read=timeout),
    )
    work: queue.Queue = queue.Queue(maxsize=concurrency * 50)
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run():
        while (upload := work.get()) is not None:
            if failures:
                continue  # drain: the feeder stops at the next upload
            try:
                retried = _deliver(pool, url, upload, wait)
            except Exception as exc:  # reported once all threads stop
                failures.append(exc)
                continue
            with lock:
                summary.count(upload)
                summary.retried += retried
                if ledger is not None:
                    ledger.add(upload)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    try:
        for upload in uploads:
            if failures:
                break
            work.put(upload)
    finally:
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
        pool.clear()
    if failures:
        raise DeliveryError(str(failures[0])) from failures[0]
    return summary


def _deliver(pool, url: str, upload: Upload, wait: Callable[[float], None]) -> int:
    import urllib3

    body, retried = json.dumps(upload.body).encode(), 0
    while True:
        try:
            answer = pool.request(
                "POST", url, body=body, headers={"Content-Type": "application/json"}, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise DeliveryError(f"{url}: {exc}") from exc
        if answer.status == 204:
            return retried
        if answer.status == 429:
            retried += 1
            wait(_retry_after(answer.headers.get("Retry-After")))
            continue
        raise DeliveryError(f"{url} answered {answer.status}: {answer.data[:300].decode(errors='replace')}")


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0
