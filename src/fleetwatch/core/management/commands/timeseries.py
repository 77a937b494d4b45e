"""``fleetwatch timeseries copy|retention``: operations on the time-series store."""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fleetwatch.timeseries import TimeseriesError, load_backend
from fleetwatch.timeseries.backend import parse_duration
from fleetwatch.timeseries.copy import copy_points


def _since(text: str | None) -> datetime | None:
    """``7d``/``36h`` ago, or an ISO date/time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except TimeseriesError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since takes a duration (7d, 36h) or an ISO date, not {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ProgressBar:
    """One line on stderr, redrawn at most ten times a second."""

    def __init__(self, stream):
        self.stream = stream
        self.shown = 0.0

    def __call__(self, tier, measurement, step, steps, points):
        now = time.monotonic()
        if now - self.shown < 0.1 and step < steps:
            return
        self.shown = now
        filled = int(30 * step / max(steps, 1))
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {step}/{steps} windows, {points:,} points "
            f"({tier}/{measurement})".ljust(110)
        )
        if step == steps:
            self.stream.write("\n")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Time-series operations. `copy --from URL --to URL [--since 7d|DATE]` copies every point "
        "(resumable; verified by counts per measurement); `retention` applies the retention tiers "
        "and removes expired points of the configured store."
    )
    group = "data"
    summary = "copy every point to another time-series store, or apply the retention tiers now"
    example = "fleetwatch timeseries copy --from sqlite:///var/timeseries.sqlite3 --to postgresql://fleetwatch@db/fleetwatch --since 7d"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        copy = sub.add_parser("copy", help="copy all points between two backends")
        copy.add_argument(
            "--from", dest="source", required=True, help="source URL, e.g. influxdb://host:8086/db"
        )
        copy.add_argument("--to", dest="destination", required=True, help="destination URL")
        copy.add_argument("--since", help="only points newer than this: a duration (7d) or an ISO date")
        copy.add_argument("--window", default="6h", help="time read per request (default 6h)")
        copy.add_argument("--state", help="progress file for resuming (default: in the data directory)")
        copy.add_argument("--no-progress", action="store_true")
        sub.add_parser("retention", help="apply retention tiers and remove expired points")

    def handle(self, *args, action, **options):
        if action == "retention":
            from fleetwatch.core.timeseries import get_backend

            backend = get_backend()
            backend.ensure_retention()
            removed = backend.enforce_retention()
            self.stdout.write(f"removed {removed} expired points")
            return
        since = _since(options["since"])
        identity = {"from": options["source"], "to": options["destination"], "since": options["since"]}
        digest = hashlib.sha256(repr(sorted(identity.items())).encode()).hexdigest()[:12]
        state = Path(options["state"] or Path(settings.DATA_DIR) / f"timeseries-copy-{digest}.json")
        try:
            source = load_backend(options["source"])
            destination = load_backend(options["destination"])
            report = copy_points(
                source,
                destination,
                since=since,
                window=timedelta(seconds=parse_duration(options["window"])),
                state_path=state,
                identity=identity,
                progress=None if options["no_progress"] else ProgressBar(sys.stderr),
            )
        except KeyboardInterrupt:
            raise CommandError(f"interrupted; run the same command again to resume ({state})") from None
        except TimeseriesError as exc:
            raise CommandError(f"{exc} (progress is kept in {state}: run again to resume)") from exc
        width = max((len(m) for _t, m in report.counts), default=10)
        for (tier, measurement), (there, here) in sorted(report.counts.items()):
            verdict = "ok" if there == here else "MISMATCH"
            self.stdout.write(
                f"{tier:<8} {measurement:<{width}} source {there:>10,}  destination {here:>10,}  {verdict}"
            )
        if report.mismatches:
            raise CommandError(f"{len(report.mismatches)} measurements differ; see above")
        state.unlink(missing_ok=True)
        self.stdout.write(f"copied {report.points:,} points; every measurement verified")
