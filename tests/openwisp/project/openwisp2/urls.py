from django.contrib import admin
from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("openwisp_controller.urls")),
    path("", include("openwisp_monitoring.urls")),
    path("api/v1/", include("openwisp_utils.api.urls")),
    *staticfiles_urlpatterns(),
]
