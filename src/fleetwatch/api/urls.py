from django.urls import path

from fleetwatch.api.health import HealthView

app_name = "api"

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
]
