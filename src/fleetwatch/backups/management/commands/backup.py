"""``fleetwatch backup run|check|import``: the backups app's ways in and its Nagios check.

* ``run`` (on a database host): run a backup command and report it over HTTP
  (:mod:`fleetwatch.backups.runner`); it never touches Fleetwatch's database.
* ``check`` (on the Fleetwatch server): one job's freshness/size check, one line and a Nagios
  exit status (:mod:`fleetwatch.backups.nagios`).
* ``import`` (on the Fleetwatch server): the runs of a wmfbackups metadata database
  (:mod:`fleetwatch.backups.importer`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fleetwatch.backups.evaluation import UNKNOWN


class Command(BaseCommand):
    help = (
        "Backups: `backup run --job UUID -- COMMAND …` runs a backup and reports it; "
        "`backup check --section S --type T --datacenter D` is a Nagios check of one job; "
        "`backup import --from mysql://… --organization SLUG` imports a wmfbackups database."
    )
    group = "data"
    summary = "run and report a backup, check a backup job (Nagios), import wmfbackups runs"
    example = "fleetwatch backup check --section s1 --type dump --datacenter eqiad"
    # `backup run` runs on database hosts, where Fleetwatch has no database: no system check
    # (some read the database) before any subcommand.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        run = sub.add_parser(
            "run",
            help="run a backup command and report it as a backup run of a job",
            description="Open a run of the job, run COMMAND (no shell; use sh -c for one), close the "
            "run as finished (exit status 0) or failed with the tail of the output; exit with the "
            "command's status.",
        )
        run.add_argument("--job", required=True, help="the job's UUID (as in its ping URL)")
        run.add_argument("--output", type=Path, help="directory (or file) the command writes the backup to")
        run.add_argument("--stdout-to", type=Path, help="write the command's standard output to this file")
        run.add_argument("--url", help="the Fleetwatch server (default: FLEETWATCH_URL)")
        run.add_argument("--token", help="a runner token (default: FLEETWATCH_RUNNER_TOKEN)")
        run.add_argument("--source", default="", help="the server backed up, fqdn[:port] (optional)")
        run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGUMENT …]")

        check = sub.add_parser(
            "check",
            help="Nagios check of one job's freshness and size: one line, exit 0/1/2/3",
        )
        check.add_argument("--section", required=True)
        check.add_argument("--type", default="dump", help="dump (default), snapshot or cold")
        check.add_argument("--datacenter", default="", help="the job's datacenter (none: '')")
        check.add_argument(
            "--organization", help="the organization's slug (needed when several have the job)"
        )
        check.add_argument("--freshness", type=int, help="seconds (default: the job's)")
        check.add_argument("--min-size", type=int, help="bytes (default: the job's)")
        check.add_argument("--warn-size-percentage", type=float, help="default: the job's")
        check.add_argument("--crit-size-percentage", type=float, help="default: the job's")
        check.error = _unknown_on_error

        imports = sub.add_parser("import", help="import the runs of a wmfbackups metadata database")
        imports.add_argument(
            "--from",
            dest="source",
            default=None,
            help="mysql://user:password@host:port/dbbackups (default: FLEETWATCH_BACKUP_IMPORT_URL)",
        )
        imports.add_argument(
            "--organization", help="slug of the organization (default: FLEETWATCH_BACKUP_IMPORT_ORGANIZATION)"
        )

    def handle(self, *args, action, **options):
        if action == "run":
            sys.exit(self.run(options))
        if action == "check":
            sys.exit(self.check(options))
        self.import_(options)

    def run(self, options) -> int:
        from fleetwatch.backups.runner import Options, run_backup

        command = list(options["command"])
        if command[:1] == ["--"]:
            command = command[1:]
        return run_backup(
            Options(
                job=options["job"],
                url=options["url"] or settings.FLEETWATCH_URL,
                token=options["token"] or settings.FLEETWATCH_RUNNER_TOKEN,
                command=command,
                output=options["output"],
                stdout_to=options["stdout_to"],
                source=options["source"],
            )
        )

    def check(self, options) -> int:
        from fleetwatch.backups.nagios import Overrides, check

        try:
            result = check(
                options["section"],
                options["type"],
                options["datacenter"],
                options["organization"],
                Overrides(
                    options["freshness"],
                    options["min_size"],
                    options["warn_size_percentage"],
                    options["crit_size_percentage"],
                ),
            )
        except Exception as exc:  # a Nagios check answers UNKNOWN, never a traceback
            self.stdout.write(f"Error while checking the backups: {type(exc).__name__}: {exc}")
            return UNKNOWN
        # The original prints the message alone; Icinga reads the status from the exit code.
        self.stdout.write(result.message)
        return result.status

    def import_(self, options) -> None:
        from fleetwatch.backups.importer import ImportFailed, import_runs
        from fleetwatch.inventory.models import Organization

        url = options["source"] or settings.FLEETWATCH_BACKUP_IMPORT_URL
        slug = options["organization"] or settings.FLEETWATCH_BACKUP_IMPORT_ORGANIZATION
        if not url or not slug:
            raise CommandError(
                "give --from mysql://… and --organization SLUG (or set FLEETWATCH_BACKUP_IMPORT_*)"
            )
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"no organization {slug!r}")
        try:
            report = import_runs(url, organization)
        except ImportFailed as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(report.summary())
        for line in report.skipped:
            self.stderr.write(f"skipped: {line}")


def _unknown_on_error(message: str):
    """A Nagios check given bad arguments answers UNKNOWN (3), as the original does, not
    argparse's 2 (which Nagios would read as CRITICAL); the one line goes to stdout."""
    print(f"Bad arguments: {message}", flush=True)
    sys.exit(UNKNOWN)
