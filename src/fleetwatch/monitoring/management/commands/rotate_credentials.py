"""``fleetwatch rotate_credentials``: re-encrypt every stored credential with the first key of
``FLEETWATCH_CREDENTIALS_KEYS`` (after a new key was put first), so the old keys can go."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from fleetwatch.core.crypto import Unreadable
from fleetwatch.monitoring.models import Iperf3Server, SshCredentials

# Every encrypted column: (model, fields).
ENCRYPTED = ((SshCredentials, ("password", "private_key", "passphrase")), (Iperf3Server, ("password",)))


class Command(BaseCommand):
    help = "Re-encrypt stored credentials with the first key of FLEETWATCH_CREDENTIALS_KEYS."
    group = "inventory"
    summary = (
        "re-encrypt devices' SSH and iperf3 credentials with the first key of FLEETWATCH_CREDENTIALS_KEYS"
    )
    example = "fleetwatch rotate_credentials"

    def handle(self, *args, **options):
        rows = 0
        # All or nothing: a row no key decrypts stops the rotation before anything changed.
        with transaction.atomic():
            for model, fields in ENCRYPTED:
                for row in model.objects.all():
                    unreadable = [name for name in fields if isinstance(getattr(row, name), Unreadable)]
                    if unreadable:
                        raise CommandError(
                            f"{model._meta.verbose_name} {row}: no key in FLEETWATCH_CREDENTIALS_KEYS "
                            f"decrypts its {', '.join(unreadable)}; nothing was re-encrypted"
                        )
                    # Read with any key, written with the first one.
                    row.save(update_fields=fields)
                    rows += 1
        self.stdout.write(f"re-encrypted the credentials of {rows} rows")
