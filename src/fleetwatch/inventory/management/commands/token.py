"""``fleetwatch token create --user NAME [--rotate]``: a user's API token, without touching the
user's password or sessions."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from fleetwatch.core.output import add_format, render


class Command(BaseCommand):
    help = (
        "API tokens: `fleetwatch token create --user NAME` prints the user's token (created when "
        "it has none); `--rotate` replaces it (the old token stops working at once). The password "
        "and the user's sessions are never touched."
    )
    group = "inventory"
    summary = "print a user's API token (created if it has none), or replace it"
    example = "fleetwatch token create --user ana --rotate"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="print the user's API token, creating it if needed")
        create.add_argument("--user", required=True, help="username")
        create.add_argument("--rotate", action="store_true", help="replace the token with a new one")
        add_format(create)

    def handle(self, *args, action, user, rotate, format="text", **options):
        account = get_user_model().objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"no user {user!r} (create it with `fleetwatch user create`)")
        if not account.is_active:
            raise CommandError(f"user {user!r} is inactive: its API token would be refused")
        with transaction.atomic():
            if rotate:
                Token.objects.filter(user=account).delete()
            token, created = Token.objects.get_or_create(user=account)
        if format == "text":
            self.stdout.write(token.key)  # the bare key, as scripts have read it
        else:
            data = {"user": account.username, "token": token.key, "created": created}
            self.stdout.write(render(data, format))
