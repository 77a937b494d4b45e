"""``/controller/``: the OpenWrt config agent's URLs (``fleetwatch.inventory.controller``). The
device id is matched as text (dashed UUID or 32 hex digits) and checked by the views, so that a
malformed one is the controller's 404, with its header, not Django's."""

from django.urls import path, re_path

from fleetwatch.inventory import controller

urlpatterns = [
    path("register/", controller.register, name="controller-register"),
    path("checksum/<str:pk>/", controller.checksum, name="controller-checksum"),
    path("download-config/<str:pk>/", controller.download_config, name="controller-download-config"),
    path("update-info/<str:pk>/", controller.update_info, name="controller-update-info"),
    path("report-status/<str:pk>/", controller.report_status, name="controller-report-status"),
    re_path(r"^(?P<path>.*)$", controller.not_found, name="controller-not-found"),
]
