"""``fleetwatch accesstoken create|list|revoke``: the protocol endpoints' tokens (Telegraf,
InfluxDB clients, Grafana, Prometheus) of an organization, from the shell.

* ``create --org SLUG --name NAME [--write] [--read]``: issues a token and prints it, once (only
  its hash is kept); without ``--write`` or ``--read`` the token may write (Telegraf's need);
* ``list [--org SLUG]``: one line per token: prefix, organization, name, permissions, state,
  last use (never the token);
* ``revoke --org SLUG --name NAME`` or ``revoke --prefix fwi_xxxxxx``: the token stops working at once.
"""

from django.core.management.base import BaseCommand, CommandError

from fleetwatch.inventory.models import Organization
from fleetwatch.protocols.models import AccessToken


def _organization(ref: str) -> Organization:
    org = Organization.objects.filter(slug=ref).first()
    if org is None and ref.isdigit():
        org = Organization.objects.filter(pk=int(ref)).first()
    if org is None:
        raise CommandError(f"no organization {ref!r} (give its slug or id)")
    return org


class Command(BaseCommand):
    help = (
        "Protocol access tokens (/write, /api/v2/write, /query, /metrics): `create --org SLUG "
        "--name NAME [--write] [--read]` prints a new token once; `list [--org SLUG]`; "
        "`revoke --org SLUG --name NAME` or `revoke --prefix PREFIX`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="issue a token and print it (shown this once)")
        create.add_argument("--org", required=True, help="organization slug or id")
        create.add_argument("--name", required=True, help="what the token is for, e.g. telegraf")
        create.add_argument("--write", action="store_true", help="may write line protocol")
        create.add_argument("--read", action="store_true", help="may query InfluxQL and scrape /metrics")
        listing = sub.add_parser("list", help="list tokens (never their text)")
        listing.add_argument("--org", help="only this organization's (slug or id)")
        revoke = sub.add_parser("revoke", help="revoke tokens: by organization and name, or by prefix")
        revoke.add_argument("--org", help="organization slug or id (with --name)")
        revoke.add_argument("--name", help="the token's name (with --org)")
        revoke.add_argument("--prefix", help="the token's prefix as `list` shows it")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, org, name, write, read, **options):
        organization = _organization(org)
        if not name.strip():
            raise CommandError("--name must not be empty")
        if AccessToken.objects.filter(organization=organization, name=name, is_active=True).exists():
            raise CommandError(f"organization {organization.slug!r} already has an active token {name!r}")
        if not write and not read:
            write = True
        _row, text = AccessToken.issue(organization, name, can_write=write, can_read=read)
        self.stdout.write(text)

    def _list(self, org=None, **options):
        tokens = AccessToken.objects.select_related("organization").order_by(
            "organization__slug", "name", "pk"
        )
        if org:
            tokens = tokens.filter(organization=_organization(org))
        for token in tokens:
            scopes = ",".join(s for s, on in (("write", token.can_write), ("read", token.can_read)) if on)
            used = token.last_used.isoformat(timespec="seconds") if token.last_used else "never"
            state = "active" if token.is_active else "revoked"
            self.stdout.write(
                f"{token.prefix}\t{token.organization.slug}\t{token.name}\t{scopes or '-'}\t{state}\t{used}"
            )

    def _revoke(self, org=None, name=None, prefix=None, **options):
        if prefix:
            if org or name:
                raise CommandError("give --prefix, or --org with --name, not both")
            tokens = AccessToken.objects.filter(prefix=prefix, is_active=True)
            what = f"prefix {prefix!r}"
        elif org and name:
            tokens = AccessToken.objects.filter(organization=_organization(org), name=name, is_active=True)
            what = f"name {name!r} in {org!r}"
        else:
            raise CommandError("give --org with --name, or --prefix")
        count = tokens.update(is_active=False)
        if not count:
            raise CommandError(f"no active token with {what}")
        self.stdout.write(f"revoked {count} token(s)")
