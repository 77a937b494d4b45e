# docker-openwisp: customization/configuration/django/custom_django_settings.py
#
# docker-openwisp's settings.py imports this file last (from .configuration.custom_django_settings
# import *), in the dashboard, api, websocket, celery, celery_monitoring and celerybeat containers.
# It points OpenWISP Monitoring at Fleetwatch's adapter (fleetwatch.openwisp); the backend is the
# URL in FLEETWATCH_TIMESERIES_URL (.env, see fleetwatch-<backend>.env next to this file).
# Merge it into your own custom_django_settings.py if you have one. See docs/deploy-openwisp.md.
import os as _os

TIMESERIES_DATABASE = {
    "BACKEND": "fleetwatch.openwisp",
    # OpenWISP requires the six keys; the adapter reads NAME (its namespace) and OPTIONS["url"].
    "NAME": _os.environ.get("INFLUXDB_NAME", "openwisp"),
    "USER": "",
    "PASSWORD": "",
    "HOST": "",
    "PORT": "",
    "OPTIONS": {"url": _os.environ["FLEETWATCH_TIMESERIES_URL"]},
}
