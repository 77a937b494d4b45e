from django.contrib.auth import views as auth_views
from django.urls import path

from fleetwatch.web import account, views

app_name = "web"

urlpatterns = [
    path("", views.fleet, name="fleet"),
    path("devices/<uuid:pk>/", views.device, name="device"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("notifications/", views.notifications, name="notifications"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", account.LogoutView.as_view(), name="logout"),
    path("preferences/", account.preferences, name="preferences"),
]
