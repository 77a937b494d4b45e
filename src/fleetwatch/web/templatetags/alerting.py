"""Template tags of the alerting UI (``fleetwatch.web.alerting``), so the shared device and
fleet pages show it without their views knowing about it."""

from django import template

from fleetwatch.inventory.models import Organization
from fleetwatch.web import alerting

register = template.Library()


@register.inclusion_tag("web/alerting/_device_panel.html", takes_context=True)
def alerting_panel(context, device):
    """Alert settings, threshold lines and maintenance of ``device`` on its page."""
    request = context["request"]
    panel = alerting.device_panel(request.user, device)
    panel.update(request=request, user=request.user, csrf_token=context.get("csrf_token"))
    return panel


@register.inclusion_tag("web/alerting/_fleet_maintenance.html", takes_context=True)
def fleet_maintenance_form(context):
    """The fleet list's "maintenance for the selected devices or an organization" form."""
    request = context["request"]
    organizations = Organization.objects.manageable_by(request.user)
    return {
        "organizations": organizations,
        "show": organizations.exists(),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag(takes_context=True)
def managed_organizations(context) -> set:
    """The ids of the organizations the user administers (to show a row's controls)."""
    return set(Organization.objects.manageable_by(context["request"].user).values_list("pk", flat=True))
