from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from fleetwatch.core.output import add_format, render
from fleetwatch.inventory.management.commands._common import organization
from fleetwatch.inventory.models import Device


class Command(BaseCommand):
    help = "Manage devices: `fleetwatch device create --org SLUG --name NAME [--mac M] [--management-ip IP]`."
    group = "inventory"
    summary = "add a device to an organization and print its id and key"
    example = "fleetwatch device create --org demo --name ap-lobby --mac 02:00:00:00:00:01 --format json"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="add a device; prints its id and key (the agent's secret)")
        create.add_argument("--org", required=True, help="the organization's slug or id")
        create.add_argument("--name", required=True, help="its name")
        create.add_argument("--mac", default="", help="MAC address")
        create.add_argument("--management-ip", default=None, help="address the ping check uses")
        add_format(create)

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
        data = {
            "id": str(device.pk),
            "key": device.key,
            "name": device.name,
            "organization": device.organization.slug,
            "mac_address": device.mac_address,
            "management_ip": device.management_ip,
        }
        self.stdout.write(render(data, o["format"], text=["id", "key"]))
