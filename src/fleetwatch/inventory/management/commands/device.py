from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fleetwatch.inventory.management.commands._common import organization
from fleetwatch.inventory.models import Device


class Command(BaseCommand):
    help = "Manage devices: `fleetwatch device create --org SLUG --name NAME [--mac M] [--management-ip IP]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--org", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--mac", default="")
        create.add_argument("--management-ip", default=None)

    def handle(self, *args, action, **o):
        device = Device(
            organization=organization(o["org"]),
            name=o["name"],
            mac_address=o["mac"],
            management_ip=o["management_ip"] or None,
        )
        try:
            device.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        device.save()
        self.stdout.write(f"id: {device.pk}\nkey: {device.key}")
