"""The plain routes of the backups API under ``/api/v1/backups/`` (the viewsets are on the API's
router): the bernard dashboard's endpoints (reference A.7), written as bernard writes them
(no trailing slash), its probes, and the Prometheus exposition at ``metrics``."""

from django.urls import path

from fleetwatch.backups.api.views import (
    DatacentersView,
    FreshnessView,
    LivenessView,
    MetricsView,
    ReadinessView,
    RecentSectionView,
    RecentView,
    SectionsView,
    TypesView,
)

urlpatterns = [
    path("recent/all", RecentView.as_view(), name="backups-recent-all"),
    path("recent/<str:section>", RecentSectionView.as_view(), name="backups-recent-section"),
    path("datacenters/all", DatacentersView.as_view(), name="backups-datacenters"),
    path("types/all", TypesView.as_view(), name="backups-types"),
    path("sections/all", SectionsView.as_view(), name="backups-sections"),
    path("check/freshness/all", FreshnessView.as_view(), name="backups-freshness"),
    path("health_check/liveness", LivenessView.as_view(), name="backups-liveness"),
    path("health_check/readiness", ReadinessView.as_view(), name="backups-readiness"),
    path("metrics", MetricsView.as_view(), name="backups-metrics"),
]
