"""``fleetwatch usage simulate``: a simulated population of deployments reporting usage metrics
(:mod:`fleetwatch.usage.collector.simulate`), posted to a collector over HTTP (``--url``) or
stored in this server's database through the collector's own ingest."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError

from fleetwatch.usage.collector import simulate


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Usage metrics: `usage simulate --instances N --days D` sends a simulated population's uploads."
    group = "data"
    summary = "send a simulated population's usage-metrics uploads to a collector"
    example = "fleetwatch usage simulate --instances 200 --days 90"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser(
            "simulate",
            help="send the uploads of a simulated population of deployments to a collector",
            description="Deployments installed over DAYS days ending on END, with releases, upgrade "
            "lags, churn, opt-outs and anonymous OpenWISP deployments, send their Install, Upgrade, "
            "Heartbeat and Consent Withdrawn uploads, oldest first. Without --url they are stored in "
            "this server's database through the collector's ingest (re-running stores nothing twice). "
            "Prints what was sent.",
        )
        run.add_argument("--instances", type=int, required=True, help="number of deployments")
        run.add_argument("--days", type=int, required=True, help="length of the period, in days")
        run.add_argument(
            "--seed", type=int, default=0, help="the same seed sends the same uploads (default 0)"
        )
        run.add_argument(
            "--url", help="a collector's URL (e.g. http://127.0.0.1:8000); default: this database"
        )
        run.add_argument(
            "--anonymous-share",
            type=_share,
            default=0.15,
            help="share of OpenWISP deployments, sending without an instance id (0 to 1, default 0.15)",
        )
        run.add_argument(
            "--end",
            type=date.fromisoformat,
            help="last day, YYYY-MM-DD, not after today (default: today, UTC)",
        )
        run.add_argument("--concurrency", type=int, default=4, help="--url: parallel connections (default 4)")

    def handle(self, *args, action, **options):
        today = datetime.now(UTC).date()
        end = options["end"] or today
        if end > today:
            raise CommandError(
                f"--end {end} is after today ({today}): the collector refuses uploads from the future"
            )
        if options["instances"] < 0 or options["days"] < 1:
            raise CommandError("--instances must be 0 or more and --days 1 or more")
        population = simulate.Population(
            options["instances"],
            options["days"],
            seed=options["seed"],
            anonymous_share=options["anonymous_share"],
            end=end,
        )
        if options["url"]:
            try:
                summary = simulate.post(
                    population, options["url"], concurrency=max(1, options["concurrency"])
                )
            except simulate.DeliveryError as exc:
                raise CommandError(str(exc)) from exc
        else:
            summary = simulate.store(population)
        self.stdout.write(f"{population.start} to {population.end}, seed {options['seed']}")
        for line in summary.lines():
            self.stdout.write(line)
