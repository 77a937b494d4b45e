"""Filters of the backups pages (``fleetwatch.web.backups``): sizes and durations written as
the checks' messages write them (``fleetwatch.backups.evaluation``)."""

from django import template

from fleetwatch.backups.evaluation import format_size, humanize_duration

register = template.Library()


@register.filter
def size(value):
    """Bytes as ``7168 GiB``, ``1.5 GiB``, ``300 KiB`` (A.4's units); ``—`` when unknown."""
    if value is None or value == "":
        return "—"
    return format_size(int(value))


@register.filter
def seconds(value):
    """A duration in seconds as ``3 hours``, ``a day``, ``8 days``; ``—`` when unknown."""
    if value is None or value == "":
        return "—"
    return humanize_duration(float(value))
