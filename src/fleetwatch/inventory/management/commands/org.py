from django.core.management.base import BaseCommand
from django.utils.text import slugify

from fleetwatch.inventory.models import Organization


class Command(BaseCommand):
    help = "Manage organizations: `fleetwatch org create --name NAME [--slug SLUG]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--name", required=True)
        create.add_argument("--slug", default="")

    def handle(self, *args, action, **options):
        slug = options["slug"] or slugify(options["name"])[:100]
        org, created = Organization.objects.get_or_create(slug=slug, defaults={"name": options["name"]})
        self.stdout.write(f"id: {org.pk}\nslug: {org.slug}\ncreated: {int(created)}")
