"""Template helpers of web/onboarding.py: whether the user may add or change devices, so that
members never see controls they could not use."""

from django import template

from fleetwatch.inventory.models import Device
from fleetwatch.web import onboarding

register = template.Library()


register.simple_tag(onboarding.can_add_devices, name="can_add_devices")


@register.filter
def manageable_by(device: Device, user) -> bool:
    """``{% if device|manageable_by:user %}``: may ``user`` rotate, deactivate or delete it?"""
    return Device.objects.manageable_by(user).filter(pk=device.pk).exists()
