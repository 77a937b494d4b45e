from django.contrib import admin
from django.urls import include, path

from fleetwatch.protocols import prometheus, write
from fleetwatch.protocols.query import query

urlpatterns = [
    path("admin/", admin.site.urls),
    # InfluxDB line protocol in, 1.x and 2.x (docs/protocols.md)
    path("write", write.write_v1, name="lineprotocol-write-v1"),
    path("api/v2/write", write.write_v2, name="lineprotocol-write-v2"),
    path("api/v1/", include("fleetwatch.api_urls")),
    # Healthchecks-compatible ping URLs of backup jobs (no credentials: the UUID is the secret)
    path("ping/", include("fleetwatch.backups.pings")),
    # The OpenWrt config agent's registration and configuration polls (docs/registration.md)
    path("controller/", include("fleetwatch.inventory.controller_urls")),
    # Prometheus scrapes (bearer token with read permission, docs/prometheus.md)
    path("metrics", prometheus.metrics, name="prometheus-metrics"),
    # InfluxDB 1.x's InfluxQL endpoint for Grafana and InfluxDB clients (docs/grafana.md)
    path("query", query, name="influxdb-query"),
    path("", include("fleetwatch.web.urls")),
]

# JSON {"detail": …} under /api/; storage that is down is a 503 + Retry-After, not a 500.
handler400 = "fleetwatch.core.errors.bad_request"
handler403 = "fleetwatch.core.errors.permission_denied"
handler404 = "fleetwatch.core.errors.page_not_found"
handler500 = "fleetwatch.core.errors.server_error"
