"""Template helpers of web/usage.py: whether the Usage link belongs in the navigation."""

from django import template

from fleetwatch.web.usage import collector_on

register = template.Library()


@register.simple_tag
def usage_link_shown(user) -> bool:
    """``{% usage_link_shown user as shown %}``: a superuser, on a server that is a collector."""
    return bool(user.is_authenticated and user.is_superuser and collector_on())


@register.filter
def percent(share) -> str:
    """A share (0…1) as ``"66.67 %"``; ``"–"`` for none."""
    if share is None:
        return "–"
    return f"{round(share * 100, 2):g} %"
