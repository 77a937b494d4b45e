"""Paths of the usage app under ``/api/v1/usage/``: the collector's door and its answers."""

from django.urls import path

from fleetwatch.usage.api.collect import CollectView
from fleetwatch.usage.api.views import ActiveView, AdoptionView, InstallsView, SharesView, SurvivalView

urlpatterns = [
    path("collect/", CollectView.as_view(), name="usage-collect"),
    path("active/", ActiveView.as_view(), name="usage-active"),
    path("installs/", InstallsView.as_view(), name="usage-installs"),
    path("adoption/", AdoptionView.as_view(), name="usage-adoption"),
    path("shares/", SharesView.as_view(), name="usage-shares"),
    path("survival/", SurvivalView.as_view(), name="usage-survival"),
]
