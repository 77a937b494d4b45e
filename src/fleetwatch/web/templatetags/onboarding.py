"""Template helpers of web/onboarding.py: whether the user may add or change devices, so that
members never see controls they could not use."""

from django import template

from fleetwatch.inventory.models import Device, Organization

register = template.Library()


@register.simple_tag
def can_add_devices(user) -> bool:
    """True if ``user`` administers an active organization (or is a superuser)."""
    return Organization.objects.manageable_by(user).filter(is_active=True).exists()


@register.filter
def manageable_by(device: Device, user) -> bool:
    """``{% if device|manageable_by:user %}``: may ``user`` rotate, deactivate or delete it?"""
    return Device.objects.manageable_by(user).filter(pk=device.pk).exists()
