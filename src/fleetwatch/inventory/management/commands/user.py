"""``fleetwatch user create`` (a new user, with its API token) and ``fleetwatch user membership``
(an existing user's role in an organization). Neither ever changes an existing user's password:
``fleetwatch changepassword NAME`` does that, ``fleetwatch token create --user NAME`` prints a token."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from fleetwatch.core.output import add_format, render
from fleetwatch.inventory.management.commands._common import organization
from fleetwatch.inventory.models import Membership, Role


class Command(BaseCommand):
    help = (
        "Manage users: `fleetwatch user create --username U --password P [--org SLUG --role admin|member] "
        "[--superuser]` creates a user and prints its API token (an existing user is refused, "
        "unchanged); `fleetwatch user membership --username U --org SLUG --role admin|member` gives an "
        "existing user a role in an organization."
    )
    group = "inventory"
    summary = "create a user (printing its API token), or give a user a role in an organization"
    example = "fleetwatch user create --username ana --password 'a long secret' --org demo --role admin"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a user and print its API token")
        create.add_argument("--username", required=True)
        create.add_argument("--password", required=True)
        create.add_argument("--email", default="", help="where e-mail notifications go")
        create.add_argument("--org", default="", help="an organization (slug or id) to make it a member of")
        create.add_argument(
            "--role", choices=[r.value for r in Role], default=Role.MEMBER.value, help="its role in --org"
        )
        create.add_argument("--superuser", action="store_true", help="every permission, every organization")
        add_format(create)
        membership = sub.add_parser(
            "membership", help="add an existing user to an organization, or change its role"
        )
        membership.add_argument("--username", required=True)
        membership.add_argument("--org", required=True, help="the organization's slug or id")
        membership.add_argument("--role", choices=[r.value for r in Role], default=Role.MEMBER.value)
        add_format(membership)

    def handle(self, *args, action, **o):
        if action == "membership":
            return self.membership(**o)
        User = get_user_model()
        name = o["username"]
        org = organization(o["org"]) if o["org"] else None
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=name, defaults={"email": o["email"]})
            if not created:
                raise CommandError(
                    f"user {name!r} already exists; its password is unchanged. Get its API token with "
                    f"`fleetwatch token create --user {name}`; change its password with "
                    f"`fleetwatch changepassword {name}`"
                )
            user.set_password(o["password"])
            if o["superuser"]:
                user.is_superuser = user.is_staff = True
            user.save()
            if org is not None:
                Membership.objects.create(user=user, organization=org, role=o["role"])
            token = Token.objects.create(user=user)
        data = {
            "username": user.username,
            "token": token.key,
            "email": user.email,
            "superuser": user.is_superuser,
            "organization": org.slug if org is not None else None,
            "role": o["role"] if org is not None else None,
        }
        self.stdout.write(render(data, o["format"], text=["username", "token"]))

    def membership(self, username, org, role, format="text", **o):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r} (create it with `fleetwatch user create`)")
        target = organization(org)
        Membership.objects.update_or_create(user=user, organization=target, defaults={"role": role})
        data = {"username": user.username, "organization": target.slug, "role": role}
        self.stdout.write(render(data, format))
