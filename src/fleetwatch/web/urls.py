from django.contrib.auth import views as auth_views
from django.urls import path

from fleetwatch.web import alerting, views

app_name = "web"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("devices/<uuid:pk>/", views.device, name="device"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("notifications/", views.notifications, name="notifications"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
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
