from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from fleetwatch.inventory.management.commands._common import organization
from fleetwatch.inventory.models import Membership, Role


class Command(BaseCommand):
    help = (
        "Manage users: `fleetwatch user create --username U --password P [--org SLUG --role admin|member] "
        "[--superuser]`; prints the API token."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create")
        create.add_argument("--username", required=True)
        create.add_argument("--password", required=True)
        create.add_argument("--email", default="")
        create.add_argument("--org", default="")
        create.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER)
        create.add_argument("--superuser", action="store_true")

    def handle(self, *args, action, **o):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=o["username"], defaults={"email": o["email"]})
        user.set_password(o["password"])
        if o["superuser"]:
            user.is_superuser = user.is_staff = True
        user.save()
        if o["org"]:
            Membership.objects.update_or_create(
                user=user, organization=organization(o["org"]), defaults={"role": o["role"]}
            )
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"username: {user.username}\ntoken: {token.key}")
