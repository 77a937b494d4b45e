"""Alert settings, maintenance windows and webhooks in the web UI.

Server-rendered views and forms (POST + CSRF). Who may do what, as everywhere in the project
(``OrgScopedQuerySet``): members of an organization see its objects, its administrators change
them (anyone else's POST is refused with 403), and other organizations' objects are 404.

* **Alert settings** of a device's metrics: shown on the device page beside the metric type's
  defaults (``AlertDefaults`` of the registry), edited on their own page, reset to the
  defaults; after each change the metric's latest stored value is judged again
  (:func:`fleetwatch.monitoring.alerts.recheck`), so health, status and open problems follow
  in the same request.
* **Maintenance windows** of one device (device page), of selected devices or of a whole
  organization (fleet list): listed, ended early, deleted.
* **Webhooks** of an organization: created, edited, deleted, a test payload sent at once, and
  the delivery log.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from fleetwatch.inventory.models import Device, Organization, administers
from fleetwatch.metrics import get_metric
from fleetwatch.metrics.registry import RegistryError, get_chart
from fleetwatch.monitoring.alerts import alert_defaults, ensure_alert_settings, recheck
from fleetwatch.monitoring.models import AlertSettings, Metric
from fleetwatch.notifications.links import base_url, served_from
from fleetwatch.notifications.models import MaintenanceWindow, Webhook, WebhookDelivery
from fleetwatch.timeseries import BackendUnavailable
from fleetwatch.timeseries.queries import METRIC_FIELD

MAX_TOLERANCE = 7 * 24 * 60  # minutes: a week
DELIVERY_LOG = 50  # deliveries shown on a webhook's page


def require_manager(user, organization_id) -> None:
    """403 unless ``user`` administers the organization (the object was visible: not 404)."""
    if not administers(user, organization_id):
        raise PermissionDenied("Only the organization's administrators may change this.")


def fmt(value: float) -> str:
    """A threshold as people write it: ``90``, ``0.5``, ``1e+09`` (Python's ``g``)."""
    return f"{value:g}"


# ---------------------------------------------------------------------------------- alert settings


def chart_line(metric: Metric, alert: AlertSettings) -> dict | None:
    """Where the metric's threshold goes on its charts: ``{"title", "value", "label"}`` for the
    first chart of the metric that aggregates its alert field, the value in that chart's units
    (the threshold times the aggregate's scale: ping reachability 1 is 100 % on "Ping Success
    Rate"). None when no chart of the metric shows the alert field. ``title`` is the chart's
    title as the chart API answers it, which is how the page's script finds the chart."""
    metric_type = get_metric(metric.configuration)
    field = metric_type.alert_field or metric_type.field_name
    for chart in metric.charts.all():
        try:
            chart_type = get_chart(chart.configuration)
        except RegistryError:
            continue
        if chart_type.scope != "device":
            continue
        for aggregate in chart_type.aggregates:
            concrete = metric.field_name if aggregate.field == METRIC_FIELD else aggregate.field
            if concrete == field:
                value = alert.threshold * (aggregate.scale if aggregate.scale is not None else 1)
                title = chart_type.as_json(metric.main_tags, metric.name)["title"]
                # An adaptive unit ("adaptive_prefix+B") is scaled by the script: no unit here.
                unit = "" if chart_type.unit.startswith("adaptive_prefix+") else chart_type.unit.strip()
                label = f"alert {alert.operator} {fmt(value)}{unit}"
                return {"title": title, "value": value, "label": label}
    return None


def settings_of(metric: Metric) -> AlertSettings | None:
    """The metric's alert settings; for a metric not evaluated yet (its row is created by the
    first evaluation) the defaults it will get, unsaved; None for a metric that never alerts."""
    try:
        return metric.alert_settings
    except AlertSettings.DoesNotExist:
        pass
    defaults = alert_defaults(metric)
    if defaults is None:
        return None
    operator, threshold, tolerance = defaults
    return AlertSettings(metric=metric, operator=operator, threshold=threshold, tolerance=tolerance)


def alert_rows(device: Device) -> list[dict]:
    """The device's alerting metrics with their settings, defaults, override flags and chart
    line, in metric name order."""
    metrics = (
        Metric.objects.filter(device=device)
        .select_related("alert_settings")
        .prefetch_related("charts")
        .order_by("name")
    )
    rows = []
    for metric in metrics:
        alert = settings_of(metric)
        if alert is None:
            continue
        defaults = alert_defaults(metric)
        if defaults is None:  # a metric type that lost its defaults: its row is kept, shown as is
            defaults = (alert.operator, alert.threshold, alert.tolerance)
        operator, threshold, tolerance = defaults
        overridden = [
            name
            for name, current, default in (
                ("operator", alert.operator, operator),
                ("threshold", alert.threshold, threshold),
                ("tolerance", alert.tolerance, tolerance),
            )
            if current != default
        ]
        rows.append(
            {
                "metric": metric,
                "alert": alert,
                "threshold": fmt(alert.threshold),
                "default": {"operator": operator, "threshold": fmt(threshold), "tolerance": tolerance},
                "overridden": overridden,
                "line": chart_line(metric, alert),
            }
        )
    return rows


class AlertSettingsForm(forms.ModelForm):
    """Operator, threshold, tolerance (0 to a week, in minutes) and whether to notify. The
    threshold is a finite number (Django's ``FloatField`` refuses ``nan`` and ``inf`` with
    "Enter a number.")."""

    threshold = forms.FloatField(error_messages={"required": "Enter a threshold."})
    tolerance = forms.IntegerField(
        min_value=0,
        max_value=MAX_TOLERANCE,
        error_messages={
            "required": "Enter a tolerance in minutes (0 for none).",
            "min_value": "The tolerance cannot be negative.",
            "max_value": f"The tolerance is at most {MAX_TOLERANCE} minutes (a week).",
        },
    )

    class Meta:
        model = AlertSettings
        fields = ["operator", "threshold", "tolerance", "is_active"]
        labels = {"is_active": "Notify problems and recoveries"}


def back_to(request, default: str):
    """Redirect to the form's ``next`` (a path of this site only), else to ``default``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


def _recheck(request, metric: Metric) -> None:
    """Judge the latest value again and say what came of it."""
    try:
        with served_from(request):  # links in the notifications it sends follow this address
            transition = recheck(metric, datetime.now(UTC))
    except BackendUnavailable:
        messages.warning(
            request, "Saved. The time-series store is unavailable: the next value will be judged."
        )
        return
    metric.refresh_from_db(fields=["is_healthy"])
    if metric.is_healthy is None:
        messages.success(request, f"Saved. {metric.name} has no value yet to judge.")
        return
    health = "healthy" if metric.is_healthy else "unhealthy"
    said = {"problem": "; a problem was opened", "recovery": "; its problem recovered"}.get(transition, "")
    messages.success(request, f"Saved. {metric.name} re-checked against its latest value: {health}{said}.")


@login_required
def alert_settings_edit(request, pk, metric):
    """``/devices/<pk>/alerts/<metric>/``: the form (GET), save (POST), or ``reset=1`` (POST)
    back to the metric type's defaults. Saving re-judges the latest stored value."""
    device = get_object_or_404(Device.objects.visible_to(request.user).select_related("organization"), pk=pk)
    metric_obj = get_object_or_404(
        Metric.objects.filter(device=device).select_related("alert_settings", "device__organization"),
        pk=metric,
    )
    alert = settings_of(metric_obj)
    if alert is None:
        raise Http404("This metric has no alert.")
    manager = administers(request.user, device.organization_id)
    row = next(r for r in alert_rows(device) if r["metric"].pk == metric_obj.pk)
    form = AlertSettingsForm(instance=alert) if manager else None
    if request.method == "POST":
        require_manager(request.user, device.organization_id)
        alert = ensure_alert_settings(metric_obj) or alert  # the row, if the metric had none yet
        if request.POST.get("reset"):
            defaults = alert_defaults(metric_obj)
            if defaults is not None:
                alert.operator, alert.threshold, alert.tolerance = defaults
                alert.save(update_fields=["operator", "threshold", "tolerance"])
            _recheck(request, metric_obj)
            return redirect(reverse("web:device", args=[device.pk]) + "#alert-settings")
        form = AlertSettingsForm(request.POST, instance=alert)
        if form.is_valid():
            form.save()
            _recheck(request, metric_obj)
            return redirect(reverse("web:device", args=[device.pk]) + "#alert-settings")
    context = {"device": device, "row": row, "form": form, "manager": manager}
    return render(request, "web/alerting/alert_settings.html", context)


# ---------------------------------------------------------------------------------- maintenance


class MaintenanceForm(forms.Form):
    """A window for some devices or for an organization; times in the user's zone (the active one)."""

    start = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: now.",
    )
    end = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"required": "Enter when the maintenance ends."},
    )
    reason = forms.CharField(max_length=200, required=False)
    device = forms.ModelMultipleChoiceField(queryset=Device.objects.none(), required=False)
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), required=False, to_field_name="slug"
    )

    def __init__(self, *args, user=None, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now or datetime.now(UTC)
        self.fields["device"].queryset = Device.objects.manageable_by(user)
        self.fields["device"].error_messages["invalid_choice"] = "Choose devices you administer."
        self.fields["organization"].queryset = Organization.objects.manageable_by(user)
        self.fields["organization"].error_messages["invalid_choice"] = (
            "Choose an organization you administer."
        )

    def chosen_devices(self) -> list[Device]:
        """The devices the form is for (kept as hidden fields when it is shown again)."""
        ids = self.data.getlist("device") if self.is_bound else self.initial.get("device") or []
        valid = []
        for value in ids:
            try:
                valid.append(uuid.UUID(str(value)))
            except ValueError:
                continue
        return list(self.fields["device"].queryset.filter(pk__in=valid).order_by("name"))

    def clean(self):
        data = super().clean()
        start = data.get("start") or self.now.replace(second=0, microsecond=0)
        data["start"] = start
        end = data.get("end")
        if end is not None:
            if end <= start:
                self.add_error("end", "The end must be after the start.")
            elif end <= self.now:
                self.add_error("end", "The end must be in the future.")
        chosen = data.get("device") or data.get("organization")
        if not chosen and "device" not in self.errors and "organization" not in self.errors:
            raise forms.ValidationError("Choose devices or an organization.")
        return data

    def save(self) -> list[MaintenanceWindow]:
        """One window for the organization when one is chosen, else one per chosen device."""
        data = self.cleaned_data
        common = {"start": data["start"], "end": data["end"], "reason": data["reason"]}
        with transaction.atomic():
            if data["organization"]:
                return [MaintenanceWindow.objects.create(organization=data["organization"], **common)]
            return [
                MaintenanceWindow.objects.create(organization_id=d.organization_id, device=d, **common)
                for d in data["device"]
            ]


def _windows(user, now):
    """Current and coming windows, then those ended in the last day, of the user's organizations."""
    visible = MaintenanceWindow.objects.visible_to(user).select_related("organization", "device")
    current = visible.filter(end__gt=now).order_by("start", "pk")
    ended = visible.filter(end__lte=now, end__gt=now - timedelta(days=1)).order_by("-end", "-pk")
    return current, ended


@login_required
def maintenance(request):
    """``/maintenance/``: the windows (current and coming, and those ended in the last day)."""
    now = datetime.now(UTC)
    current, ended = _windows(request.user, now)
    managed = set(Organization.objects.manageable_by(request.user).values_list("pk", flat=True))
    form = MaintenanceForm(user=request.user, now=now) if managed else None
    context = {"current": current, "ended": ended, "managed": managed, "now": now, "form": form}
    return render(request, "web/alerting/maintenance.html", context)


@login_required
def maintenance_new(request):
    """``/maintenance/new/``: create windows (POST from the device page, the fleet list or this
    page's form); GET shows the form with ``?device=<id>`` or ``?organization=<slug>`` chosen."""
    now = datetime.now(UTC)
    if not Organization.objects.manageable_by(request.user).exists():
        raise PermissionDenied("Only organization administrators create maintenance windows.")
    if request.method == "POST":
        form = MaintenanceForm(request.POST, user=request.user, now=now)
        if form.is_valid():
            windows = form.save()
            scope = (
                ", ".join(w.device.name for w in windows)
                if windows[0].device_id
                else windows[0].organization.name
            )
            end = timezone.localtime(windows[0].end)  # in the zone the form was filled in
            messages.success(request, f"Maintenance of {scope} until {end:%Y-%m-%d %H:%M} {end.tzname()}.")
            return back_to(request, "web:maintenance")
    else:
        form = MaintenanceForm(
            initial={
                "device": request.GET.getlist("device"),
                "organization": request.GET.get("organization"),
            },
            user=request.user,
            now=now,
        )
    back = request.POST.get("next") or request.GET.get("next") or ""
    return render(request, "web/alerting/maintenance_new.html", {"form": form, "now": now, "next": back})


def _window_for_change(request, pk) -> MaintenanceWindow:
    window = get_object_or_404(MaintenanceWindow.objects.visible_to(request.user), pk=pk)
    require_manager(request.user, window.organization_id)
    return window


@login_required
@require_POST
def maintenance_end(request, pk):
    """End a current window now (a window that has not begun is deleted instead)."""
    window = _window_for_change(request, pk)
    now = datetime.now(UTC)
    if window.start >= now:
        window.delete()
        messages.success(request, "The maintenance had not begun: deleted.")
    elif window.end > now:
        window.end = now
        window.save(update_fields=["end"])
        messages.success(request, "Maintenance ended.")
    return back_to(request, "web:maintenance")


@login_required
@require_POST
def maintenance_delete(request, pk):
    window = _window_for_change(request, pk)
    window.delete()
    messages.success(request, "Maintenance window deleted.")
    return redirect("web:maintenance")


# ---------------------------------------------------------------------------------- webhooks


class WebhookForm(forms.ModelForm):
    """Name, URL (checked by ``validate_webhook_url``: http(s), no private address unless
    ``FLEETWATCH_WEBHOOK_ALLOW_PRIVATE``) and whether it is active."""

    url = forms.URLField(max_length=500, assume_scheme="https", label="URL")

    class Meta:
        model = Webhook
        fields = ["organization", "name", "url", "is_active"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.manageable_by(user)
        if self.instance.pk:
            del self.fields["organization"]  # a webhook stays in its organization


def test_payload(webhook: Webhook, now: datetime) -> dict:
    """An Alertmanager version 4 payload saying "this is a test" (``alertname``
    ``FleetwatchTest``, ``severity`` ``none``), resolved at once so a receiver that opens
    incidents closes it."""
    labels = {"alertname": "FleetwatchTest", "severity": "none", "organization": webhook.organization.slug}
    annotations = {
        "summary": f"Test delivery to {webhook.name}",
        "description": "Sent from the webhooks page.",
    }
    base = base_url()  # the request's address inside served_from (fleetwatch.notifications.links)
    from fleetwatch.notifications.webhooks import rfc3339

    return {
        "version": "4",
        "groupKey": '{}:{alertname="FleetwatchTest"}',
        "truncatedAlerts": 0,
        "status": "resolved",
        "receiver": webhook.name,
        "groupLabels": {"alertname": "FleetwatchTest"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": base,
        "alerts": [
            {
                "status": "resolved",
                "labels": labels,
                "annotations": annotations,
                "startsAt": rfc3339(now),
                "endsAt": rfc3339(now),
                "generatorURL": f"{base}{reverse('web:webhook', args=[webhook.pk])}",
                "fingerprint": "0000000000000000",
            }
        ],
    }


def send_test(webhook: Webhook, now: datetime | None = None) -> WebhookDelivery:
    """Deliver a test payload now, once (no retries), through the delivery code alerts use
    (``attempt_delivery``: signature, private-address refusal); logged as kind ``test``."""
    from fleetwatch.notifications.tasks import attempt_delivery

    now = now or datetime.now(UTC)
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, kind="test", payload=test_payload(webhook, now), created=now
    )
    if attempt_delivery(delivery, now):  # a failure would be retried: a test is tried once
        delivery.status, delivery.next_attempt = WebhookDelivery.Status.FAILED, None
        delivery.save(update_fields=["status", "next_attempt"])
    return delivery


@login_required
def webhooks(request):
    """``/webhooks/``: the webhooks of the user's organizations with their latest delivery;
    administrators create them here."""
    visible = Webhook.objects.visible_to(request.user).select_related("organization")
    managed = set(Organization.objects.manageable_by(request.user).values_list("pk", flat=True))
    form = None
    if request.method == "POST":
        if not managed:
            raise PermissionDenied("Only organization administrators create webhooks.")
        form = WebhookForm(request.POST, user=request.user)
        if form.is_valid():
            webhook = form.save()
            messages.success(request, f"Webhook {webhook.name} created. Its secret signs every delivery.")
            return redirect("web:webhook", pk=webhook.pk)
    elif managed:
        form = WebhookForm(user=request.user)
    rows = []
    for webhook in visible:
        last = webhook.deliveries.order_by("-created", "-id").first()
        rows.append({"webhook": webhook, "last": last, "manager": webhook.organization_id in managed})
    return render(request, "web/alerting/webhooks.html", {"rows": rows, "form": form, "managed": managed})


@login_required
def webhook(request, pk):
    """``/webhooks/<id>/``: the delivery log; for administrators the form, the secret, send
    test and delete."""
    obj = get_object_or_404(Webhook.objects.visible_to(request.user).select_related("organization"), pk=pk)
    manager = administers(request.user, obj.organization_id)
    form = WebhookForm(instance=obj, user=request.user) if manager else None
    if request.method == "POST":
        require_manager(request.user, obj.organization_id)
        form = WebhookForm(request.POST, instance=obj, user=request.user)
        if form.is_valid():
            form.save()
            messages.success(request, "Webhook saved.")
            return redirect("web:webhook", pk=obj.pk)
    deliveries = obj.deliveries.order_by("-created", "-id")[:DELIVERY_LOG]
    context = {"webhook": obj, "form": form, "manager": manager, "deliveries": deliveries}
    return render(request, "web/alerting/webhook.html", context)


@login_required
@require_POST
def webhook_test(request, pk):
    obj = get_object_or_404(Webhook.objects.visible_to(request.user).select_related("organization"), pk=pk)
    require_manager(request.user, obj.organization_id)
    with served_from(request):
        delivery = send_test(obj)
    if delivery.status == WebhookDelivery.Status.DELIVERED:
        messages.success(request, f"Test delivered: HTTP {delivery.response_code}.")
    else:
        messages.error(request, f"Test not delivered: {delivery.error.rstrip(': ')}")
    return redirect("web:webhook", pk=obj.pk)


@login_required
def webhook_delete(request, pk):
    """GET asks for confirmation; POST deletes the webhook and its delivery log."""
    obj = get_object_or_404(Webhook.objects.visible_to(request.user).select_related("organization"), pk=pk)
    require_manager(request.user, obj.organization_id)
    if request.method == "POST":
        name = obj.name
        obj.delete()
        messages.success(request, f"Webhook {name} deleted.")
        return redirect("web:webhooks")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "web/alerting/webhook_delete.html", {"webhook": obj})


def device_panel(user, device: Device) -> dict:
    """What the device page shows of alerting (``{% alerting_panel %}``): the alert settings
    rows, whether the user may change them, and the chart lines for the page's script."""
    rows = alert_rows(device)
    return {
        "device": device,
        "alert_rows": rows,
        "manager": administers(user, device.organization_id),
        "threshold_lines": [row["line"] for row in rows if row["line"] is not None],
        "windows": MaintenanceWindow.objects.filter(
            Q(device=device) | Q(device__isnull=True, organization_id=device.organization_id),
            end__gt=datetime.now(UTC),
        ).order_by("start", "pk"),
    }
