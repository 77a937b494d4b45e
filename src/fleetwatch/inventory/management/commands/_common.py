from django.core.management.base import CommandError

from fleetwatch.inventory.models import Organization


def organization(ref: str) -> Organization:
    """An organization by slug or id."""
    org = Organization.objects.filter(slug=ref).first()
    if org is None:
        try:
            org = Organization.objects.filter(pk=ref).first()
        except Exception:
            org = None
    if org is None:
        raise CommandError(f"no organization {ref!r} (give its slug or id)")
    return org
