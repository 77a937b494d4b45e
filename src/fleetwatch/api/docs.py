"""The schema's viewers, ``/api/v1/docs/`` (Swagger UI) and ``/api/v1/redoc/`` (ReDoc), served
from our own static files (drf-spectacular-sidecar) so they work offline.

A Content-Security-Policy keeps the pages on this server: ReDoc's menu shows a logo from its
vendor's CDN, which the browser then never asks for (the page shows none)."""

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Swagger UI and ReDoc run inline scripts and styles, ReDoc its search in a blob: worker.
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


class SameOriginOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = POLICY
        return response


class SwaggerView(SameOriginOnly, SpectacularSwaggerView):
    pass


class RedocView(SameOriginOnly, SpectacularRedocView):
    template_name = "api/redoc.html"
