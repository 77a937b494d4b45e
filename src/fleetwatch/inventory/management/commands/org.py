from django.core.management.base import BaseCommand
from django.utils.text import slugify

from fleetwatch.core.output import add_format, render
from fleetwatch.inventory.models import Organization


class Command(BaseCommand):
    help = "Manage organizations: `fleetwatch org create --name NAME [--slug SLUG]`."
    group = "inventory"
    summary = "create an organization (or find it by its slug)"
    example = "fleetwatch org create --name 'Acme Networks' --slug acme"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an organization; an existing slug is found, unchanged")
        create.add_argument("--name", required=True, help="its name")
        create.add_argument("--slug", default="", help="its short name in URLs (default: from the name)")
        add_format(create)

    def handle(self, *args, action, **options):
        slug = options["slug"] or slugify(options["name"])[:100]
        org, created = Organization.objects.get_or_create(slug=slug, defaults={"name": options["name"]})
        data = {"id": str(org.pk), "slug": org.slug, "name": org.name, "created": created}
        if options["format"] == "text":
            data["created"] = int(created)
        self.stdout.write(render(data, options["format"], text=["id", "slug", "created"]))
