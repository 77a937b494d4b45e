"""Settings of the Django project that runs OpenWISP Monitoring 1.3's shipped test suite.

Driven by scripts/openwisp/run.sh; every knob comes from the environment:

``OPENWISP_TSDB``
    Which time-series database backs ``TIMESERIES_DATABASE``:

    ``influxdb`` (default, the baseline)
        OpenWISP's own client (``openwisp_monitoring.db.backends.influxdb``) on InfluxDB 1.x at
        ``FLEETWATCH_TEST_INFLUXDB_URL`` (default ``influxdb://127.0.0.1:18086``); only the host,
        port and optional user:password of the URL are used, the database is ``openwisp2`` (the
        tests use ``openwisp2_test``).
    ``fleetwatch-<backend>`` with backend sqlite, postgresql, influxdb or elasticsearch
        Fleetwatch's adapter package ``fleetwatch.openwisp`` with ``OPTIONS["url"]`` taken from
        ``FLEETWATCH_TEST_<BACKEND>_URL`` (a Fleetwatch time-series URL).

``FLEETWATCH_TEST_REDIS_URL``
    Redis for the cache (that database) and the sessions (the next one); default
    ``redis://127.0.0.1:16379/0``.
``FLEETWATCH_OPENWISP_DATA``
    Where the SpatiaLite file and MEDIA_ROOT live; default ``<repo>/.services/openwisp``.
``FLEETWATCH_OPENWISP_EXCLUDED``
    The exclusion list read by the test runner; default ``<repo>/tests/openwisp/excluded.txt``.
``FLEETWATCH_OPENWISP_SETTINGS``
    Settings files of a deployment (``os.pathsep``-separated), executed in this module's namespace
    in order, after everything else, with ``TIMESERIES_DATABASE`` removed first: they must set it,
    as the settings that ansible-openwisp2 and docker-openwisp render do
    (tests/deploy/test_openwisp_settings.py).
"""

import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

TESTING = "test" in sys.argv
BASE_DIR = Path(__file__).resolve().parent
REPO_ROOT = BASE_DIR.parents[3]
DATA_DIR = Path(os.environ.get("FLEETWATCH_OPENWISP_DATA", REPO_ROOT / ".services" / "openwisp"))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INTERNAL_IPS = ["127.0.0.1"]
SECRET_KEY = "fleetwatch-openwisp-harness-not-a-secret-0123456789abcdefghijklmnop"

# SpatiaLite (openwisp_utils' backend loads mod_spatialite, hence Debian's python3 in the venv).
# Busy timeout, WAL (readers do not block the writer) and BEGIN IMMEDIATE (the write lock is taken
# at BEGIN, not on a read->write upgrade, which fails at once with "database is locked" under
# concurrent writers). The test database itself is Django's shared in-memory SQLite.
DATABASES = {
    "default": {
        "ENGINE": "openwisp_utils.db.backends.spatialite",
        "NAME": str(DATA_DIR / "openwisp-monitoring.sqlite3"),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        },
    }
}


# --------------------------------------------------------------------------- time series
TSDB = os.environ.get("OPENWISP_TSDB", "influxdb")
FLEETWATCH_BACKENDS = ("sqlite", "postgresql", "influxdb", "influxdb2", "elasticsearch")


def _influxdb_settings() -> dict:
    url = urlsplit(os.environ.get("FLEETWATCH_TEST_INFLUXDB_URL") or "influxdb://127.0.0.1:18086")
    return {
        "BACKEND": "openwisp_monitoring.db.backends.influxdb",
        # InfluxDB 1.x with auth-enabled = false ignores credentials.
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "NAME": "openwisp2",
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 8086),
        "OPTIONS": {"udp_writes": False, "udp_port": 8089},
    }


def _fleetwatch_settings(backend: str) -> dict:
    if backend not in FLEETWATCH_BACKENDS:
        raise ImproperlyConfigured(
            f"OPENWISP_TSDB=fleetwatch-{backend}: the backend must be one of {', '.join(FLEETWATCH_BACKENDS)}"
        )
    variable = f"FLEETWATCH_TEST_{backend.upper()}_URL"
    url = os.environ.get(variable)
    if not url and backend == "sqlite":
        url = f"sqlite:///{DATA_DIR / 'fleetwatch-timeseries.sqlite3'}"
    if not url:
        raise ImproperlyConfigured(f"OPENWISP_TSDB=fleetwatch-{backend} needs {variable} (run.sh sets it)")
    parts = urlsplit(url)
    return {
        "BACKEND": "fleetwatch.openwisp",
        # OpenWISP asserts these keys exist; the adapter reads OPTIONS["url"] instead.
        "USER": parts.username or "fleetwatch",
        "PASSWORD": "-",
        "NAME": "openwisp2",
        "HOST": parts.hostname or "localhost",
        "PORT": str(parts.port or ""),
        "OPTIONS": {"url": url},
    }


if TSDB == "influxdb":
    TIMESERIES_DATABASE = _influxdb_settings()
elif TSDB.startswith("fleetwatch-"):
    TIMESERIES_DATABASE = _fleetwatch_settings(TSDB.removeprefix("fleetwatch-"))
else:
    raise ImproperlyConfigured(
        f"OPENWISP_TSDB={TSDB!r}: use influxdb or fleetwatch-<{'|'.join(FLEETWATCH_BACKENDS)}>"
    )


# --------------------------------------------------------------------------- applications
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.sites",
    "openwisp_users.accounts",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "django_extensions",
    "openwisp_users",
    "openwisp_controller.config",
    "openwisp_controller.pki",
    "openwisp_controller.geo",
    "openwisp_controller.connection",
    "openwisp_controller.subnet_division",
    "openwisp_notifications",
    "openwisp_ipam",
    "openwisp_monitoring.monitoring",
    "openwisp_monitoring.device",
    "openwisp_monitoring.check",
    "nested_admin",
    "openwisp_utils.admin_theme",
    "admin_auto_filters",
    "django.contrib.admin",
    "django.forms",
    "sortedm2m",
    "reversion",
    "leaflet",
    "flat_json_widget",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "drf_yasg",
    "channels",
    "import_export",
]
EXTENDED_APPS = ["django_x509", "django_loci"]
AUTH_USER_MODEL = "openwisp_users.User"
SITE_ID = 1

STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "openwisp_utils.staticfiles.DependencyFinder",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "openwisp2.urls"
ASGI_APPLICATION = "openwisp2.routing.application"
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-gb"
USE_TZ = True
USE_I18N = False
STATIC_URL = "/static/"
STATIC_ROOT = str(DATA_DIR / "static")
MEDIA_URL = "/media/"
# django_loci's test mixin opens MEDIA_ROOT/floorplan.jpg; run.sh creates it.
MEDIA_ROOT = str(DATA_DIR / "media")

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "OPTIONS": {
            "loaders": [
                "django.template.loaders.filesystem.Loader",
                "django.template.loaders.app_directories.Loader",
                "openwisp_utils.loaders.DependencyLoader",
            ],
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "openwisp_utils.admin_theme.context_processor.menu_groups",
                "openwisp_utils.admin_theme.context_processor.admin_theme_settings",
                "openwisp_notifications.context_processors.notification_api_settings",
            ],
        },
    }
]
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # the test runner swaps in locmem
LOGIN_REDIRECT_URL = "admin:index"
ACCOUNT_LOGOUT_REDIRECT_URL = LOGIN_REDIRECT_URL
OPENWISP_MONITORING_MANAGEMENT_IP_ONLY = False


# --------------------------------------------------------------------------- cache, Celery, channels
def _redis_db(url: str, offset: int) -> str:
    """The same Redis server, database number + offset."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0) + offset
    return urlunsplit(parts._replace(path=f"/{db}"))


REDIS_URL = os.environ.get("FLEETWATCH_TEST_REDIS_URL") or "redis://127.0.0.1:16379/0"
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _redis_db(REDIS_URL, 0),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    },
    "sessions": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _redis_db(REDIS_URL, 1),
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    },
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "sessions"

# Tasks run inline (eager), as in upstream's test settings: no broker, no worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_TIMEZONE = TIME_ZONE
CELERY_EMAIL_BACKEND = EMAIL_BACKEND
CELERY_BEAT_SCHEDULE = {
    "run_checks": {
        "task": "openwisp_monitoring.check.tasks.run_checks",
        "schedule": timedelta(minutes=5),
        "args": (
            [
                "openwisp_monitoring.check.classes.Ping",
                "openwisp_monitoring.check.classes.ConfigApplied",
                "openwisp_monitoring.check.classes.WifiClients",
            ],
        ),
        "relative": True,
    },
}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --------------------------------------------------------------------------- test-only knobs
# The same ones upstream's test project sets.
OPENWISP_MONITORING_MAC_VENDOR_DETECTION = False
OPENWISP_MONITORING_API_URLCONF = "openwisp_monitoring.urls"
OPENWISP_MONITORING_API_BASEURL = "http://testserver"
OPENWISP_MONITORING_AUTO_IPERF3 = True

# openwisp_utils' timing runner, minus the test ids listed in tests/openwisp/excluded.txt.
TEST_RUNNER = "openwisp2.runner.ExcludingTestRunner"
FLEETWATCH_OPENWISP_EXCLUDED = os.environ.get(
    "FLEETWATCH_OPENWISP_EXCLUDED", str(REPO_ROOT / "tests" / "openwisp" / "excluded.txt")
)

LEAFLET_CONFIG = {"RESET_VIEW": False}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("OW_LOG_LEVEL", "WARNING")},
}


# --------------------------------------------------------------------------- a deployment's settings
_deployment = [p for p in os.environ.get("FLEETWATCH_OPENWISP_SETTINGS", "").split(os.pathsep) if p]
if _deployment:
    del TIMESERIES_DATABASE  # the deployment's files must set it themselves
    for _path in _deployment:
        exec(compile(Path(_path).read_text(), _path, "exec"), globals())
    if "TIMESERIES_DATABASE" not in globals():
        raise ImproperlyConfigured(f"FLEETWATCH_OPENWISP_SETTINGS={_deployment}: no TIMESERIES_DATABASE set")
