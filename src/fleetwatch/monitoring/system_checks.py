"""Django system checks that need the monitoring app's own registries (the core checks in
fleetwatch.core.checks know nothing of monitoring, so this one lives here)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from fleetwatch.monitoring.checks import CHECKS


@register("fleetwatch")
def check_auto_checks(app_configs=None, **kwargs) -> list:
    """E009: ``FLEETWATCH_AUTO_CHECKS`` names a check type nobody registered (no device would
    get it, silently)."""
    wanted = settings.FLEETWATCH_AUTO_CHECKS
    if wanted is None:
        return []
    unknown = [name for name in wanted if name not in CHECKS]
    if not unknown:
        return []
    return [
        Error(
            f"FLEETWATCH_AUTO_CHECKS names unknown check types: {', '.join(unknown)}.",
            hint=f"Known: {', '.join(sorted(CHECKS))}; or `none` for no check.",
            id="fleetwatch.E009",
        )
    ]
