"""Template tags of the device channels' sections (``fleetwatch.web.channels``), so the device
page shows them without its view knowing about them."""

from django import template

from fleetwatch.monitoring import demo_agent
from fleetwatch.web import channels

register = template.Library()


@register.inclusion_tag("web/channels/_connection.html")
def connection_card(device):
    """The connection card: channel, connected/disconnected since, last message, agent and
    whether it runs remote commands (and, for the demo's own host, which file enabled them)."""
    demo_config = demo_agent.commands_enabled_by(device)
    return {
        "device": device,
        "connection": channels.connection(device),
        "demo_config": demo_config and demo_agent.shown(demo_config),
    }


@register.inclusion_tag("web/channels/_device.html", takes_context=True)
def device_channels(context, device):
    """Connection history, station messages, and for administrators the command console (with
    the refused form, when the console's POST rendered the page)."""
    request = context["request"]
    panel = channels.panel(request, device, context.get("command_form"))
    panel.update(request=request, user=request.user, csrf_token=context.get("csrf_token"))
    return panel
