"""Paths of the usage app under ``/api/v1/usage/``."""

from django.urls import path

from fleetwatch.usage.api.collect import CollectView

urlpatterns = [
    path("collect/", CollectView.as_view(), name="usage-collect"),
]
