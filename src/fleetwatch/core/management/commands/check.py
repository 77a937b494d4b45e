"""``fleetwatch check``: Django's system checks, plus ``--connect`` to contact the servers.

Without ``--connect`` it is Django's command unchanged (``--deploy``, ``--fail-level``, ``--tag``
…); Fleetwatch's own checks are in fleetwatch.core.checks.
"""

from django.core import checks
from django.core.management.commands.check import Command as DjangoCheckCommand

from fleetwatch.core.checks import check_connectivity


class Command(DjangoCheckCommand):
    help = DjangoCheckCommand.help + " --connect: also contact the time-series store and the broker."
    group = "data"
    summary = "check the settings and the installation; --connect: also reach the store and the broker"
    example = "fleetwatch check --deploy --connect"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--connect",
            action="store_true",
            help="also check that the time-series store and the broker answer (tag: connectivity)",
        )

    def handle(self, *app_labels, **options):
        if options["connect"]:
            checks.register(check_connectivity, "connectivity")
        return super().handle(*app_labels, **options)
