from django.contrib.auth import views as auth_views
from django.urls import path

from fleetwatch.web import account, alerting, views

app_name = "web"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("devices/<uuid:pk>/", views.device, name="device"),
    path("devices/<uuid:pk>/status.json", views.device_status_json, name="device-status-json"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("notifications/", views.notifications, name="notifications"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("preferences/", account.preferences, name="preferences"),
    # alerting (fleetwatch.web.alerting)
    path("devices/<uuid:pk>/alerts/<int:metric>/", alerting.alert_settings_edit, name="alert-settings"),
    path("maintenance/", alerting.maintenance, name="maintenance"),
    path("maintenance/new/", alerting.maintenance_new, name="maintenance-new"),
    path("maintenance/<int:pk>/end/", alerting.maintenance_end, name="maintenance-end"),
    path("maintenance/<int:pk>/delete/", alerting.maintenance_delete, name="maintenance-delete"),
    path("webhooks/", alerting.webhooks, name="webhooks"),
    path("webhooks/<int:pk>/", alerting.webhook, name="webhook"),
    path("webhooks/<int:pk>/test/", alerting.webhook_test, name="webhook-test"),
    path("webhooks/<int:pk>/delete/", alerting.webhook_delete, name="webhook-delete"),
]

# Onboarding (web/onboarding.py): add a device, connect its agent, rotate its key, deactivate, delete.
from fleetwatch.web import onboarding  # noqa: E402  (appended: each concern adds its own block)

urlpatterns += [
    path("devices/add/", onboarding.add_device, name="device-add"),
    path("devices/<uuid:pk>/connect/", onboarding.connect, name="device-connect"),
    path("devices/<uuid:pk>/rotate-key/", onboarding.rotate_key, name="device-rotate-key"),
    path("devices/<uuid:pk>/deactivate/", onboarding.set_active, name="device-set-active"),
    path("devices/<uuid:pk>/delete/", onboarding.delete_device, name="device-delete"),
]

# Backups (web/backups.py): the dashboard, a section per datacenter, a job with its charts, a run.
from fleetwatch.web import backups  # noqa: E402

urlpatterns += [
    path("backups/", backups.dashboard, name="backups"),
    path("backups/sections/<str:section>/", backups.section, name="backups-section"),
    path("backups/jobs/<uuid:pk>/", backups.job, name="backups-job"),
    path("backups/runs/<int:pk>/", backups.run, name="backups-run"),
]

# Device channels (web/channels.py): the command console; registration approvals and enrollment
# tokens (web/registration.py).
from fleetwatch.web import channels, registration  # noqa: E402

urlpatterns += [
    path("devices/<uuid:pk>/commands/", channels.commands, name="device-commands"),
    path(
        "devices/<uuid:pk>/commands/<uuid:command>/output/",
        channels.command_output,
        name="device-command-output",
    ),
    path(
        "devices/<uuid:pk>/commands/<uuid:command>/cancel/",
        channels.command_cancel,
        name="device-command-cancel",
    ),
    path("registrations/", registration.registrations, name="registrations"),
    path("registrations/<uuid:pk>/<str:decision>/", registration.decide, name="registration-decide"),
    path("registrations/tokens/", registration.token_create, name="enrollment-token-create"),
    path("registrations/tokens/<uuid:pk>/", registration.token_created, name="enrollment-token"),
    path("registrations/tokens/<uuid:pk>/revoke/", registration.token_revoke, name="enrollment-token-revoke"),
]

# System information and the usage-metrics consent (web/system.py): superusers only.
from fleetwatch.web import system  # noqa: E402

urlpatterns += [
    path("system/", system.system, name="system"),
]
# The usage collector's answers (web/usage.py): superusers, on a server that is a collector.
from fleetwatch.web import usage  # noqa: E402

urlpatterns += [path("usage/", usage.usage, name="usage")]
