"""System information (``/system/``): what this deployment runs, and the usage-metrics consent.

Superusers only (anonymous: the login page; anyone else: the 403 page, for GET and POST alike,
so a non-superuser's POST changes nothing). The page shows Fleetwatch's version, its modules,
the OS, kernel and platform, the time-series backend and the installation method: the facts
the usage metrics send (``fleetwatch.usage.sender.facts``), with the exact payload of the next
heartbeat. The form's one checkbox, ``user_consented``, is the opt-out (reference
usage-metrics C.6); unticking it sends one Consent Withdrawn report and nothing after it
(``events.set_consent``). While ``FLEETWATCH_USAGE_METRICS`` is false the page says so and has
no form. ``usage_notice`` is the one-time notice to the first superuser after install.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils import timezone

import fleetwatch
from fleetwatch.usage import payload
from fleetwatch.usage.models import Consent
from fleetwatch.usage.sender import events, facts, tasks

logger = logging.getLogger(__name__)

NOTICE = (
    "Fleetwatch is installed. To learn how many deployments exist and keep up to date, it sends "
    "anonymous usage metrics (versions, OS, install method, time-series backend, a random "
    "instance id) once a day. You can opt out at any time on the System information page."
)
NOTICE_SEEN = "usage-notice-seen"  # session key: checked once per session, not on every page


def _queue_delivery() -> None:
    try:
        tasks.flush_outbox.delay()
    except Exception:  # the broker is down: the beat's outbox task delivers it later
        logger.exception("Usage metrics: could not queue the delivery; the outbox task will send it")


@login_required
def system(request):
    """GET: the page. POST (superusers): apply the consent checkbox, then back to the page."""
    if not request.user.is_superuser:
        raise PermissionDenied("Only superusers see the system information.")
    metrics_on = settings.FLEETWATCH_USAGE_METRICS
    if request.method == "POST":
        if not metrics_on:
            messages.info(request, "Usage metrics are switched off (FLEETWATCH_USAGE_METRICS=false).")
            return redirect("web:system")
        consented = request.POST.get("user_consented") == "on"
        queued = events.set_consent(consented)
        if queued is not None:
            transaction.on_commit(_queue_delivery)
        if consented:
            messages.success(request, "Thank you: anonymous usage metrics are sent.")
        else:
            messages.success(request, "Usage metrics are off: nothing more will be sent.")
        return redirect("web:system")
    consent = Consent.load() if metrics_on else None
    versions = facts.versions()
    preview = None
    if consent is not None and consent.user_consented:
        at = int(timezone.now().timestamp())
        document = payload.upload(
            settings.FLEETWATCH_USAGE_SITE_ID,
            [payload.event(payload.HEARTBEAT, a, n, at) for a, n in facts.facts(consent.instance_id)],
        )
        preview = json.dumps(document, indent=2)
    context = {
        "version": fleetwatch.__version__,
        "modules": facts.modules(),
        "os_version": versions[payload.OS_VERSION],
        "kernel_version": versions[payload.KERNEL_VERSION],
        "hardware_platform": versions[payload.HARDWARE_PLATFORM],
        "backend": facts.timeseries_backend(),
        "install_method": settings.FLEETWATCH_INSTALL_METHOD,
        "metrics_on": metrics_on,
        "debug": settings.DEBUG,
        "consent": consent,
        "collector_url": settings.FLEETWATCH_USAGE_COLLECTOR_URL,
        "preview": preview,
    }
    return render(request, "web/system.html", context)


def usage_notice(request) -> None:
    """The one-time notice (``Consent.shown_once``): added to the messages of the first
    superuser's page after install, once for the deployment (a conditional update, so two
    superusers at once do not both get it); nothing while usage metrics are switched off."""
    user = request.user
    if not (user.is_superuser and settings.FLEETWATCH_USAGE_METRICS) or request.session.get(NOTICE_SEEN):
        return
    request.session[NOTICE_SEEN] = True
    Consent.load()
    if Consent.objects.filter(pk=Consent.SINGLETON, shown_once=False).update(shown_once=True):
        messages.info(request, NOTICE)
