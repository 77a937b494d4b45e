"""Django settings, all from environment variables with embedded defaults.

With no variable set, Fleetwatch runs on SQLite (relational data and time series) under
``./var``, with no broker and no other server. See docs/configuration.md.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from fleetwatch.core.env import env_bool, env_int, env_list, env_seconds, env_str

DATA_DIR = Path(env_str("FLEETWATCH_DATA_DIR", "var")).expanduser().resolve()


def _secret_key() -> str:
    key = env_str("FLEETWATCH_SECRET_KEY")
    if key:
        return key
    # First run of the embedded default: make a key and keep it with the data.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# How long a request waits for SQLite's one writer (relational and time-series files) before it
# answers 503 + Retry-After: a few seconds, so a held lock never fills every server thread.
SQLITE_LOCK_TIMEOUT = env_seconds("FLEETWATCH_SQLITE_LOCK_TIMEOUT", 5)


def _database(url: str) -> dict:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        name = path[1:] if path.startswith("/") else path
        return {
            "ENGINE": "fleetwatch.core.sqlite",
            "NAME": name,
            # Keep each thread's connection: opening one (functions, PRAGMAs) per request cost
            # more than the report it served.
            "CONN_MAX_AGE": None,
            # Concurrent requests: WAL lets readers run beside the writer, and IMMEDIATE
            # transactions wait for the write lock instead of failing with "database is locked".
            "OPTIONS": {
                "timeout": SQLITE_LOCK_TIMEOUT,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    if parts.scheme in ("postgresql", "postgres"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": parts.port or "",
            "CONN_MAX_AGE": 60,
        }
    raise ImproperlyConfigured(f"FLEETWATCH_DATABASE: unsupported scheme {parts.scheme!r}")


SECRET_KEY = _secret_key()
DEBUG = env_bool("FLEETWATCH_DEBUG", False)
ALLOWED_HOSTS = env_list("FLEETWATCH_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our static files (no CDN)
    "axes",
    "fleetwatch.core",
    "fleetwatch.api",  # its templates (the schema viewers)
    "fleetwatch.inventory",
    "fleetwatch.monitoring",
    "fleetwatch.notifications",
    "fleetwatch.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view failing because the database or the time-series store is down: 503 + Retry-After.
    "fleetwatch.core.errors.StorageUnavailableMiddleware",
    # turns a locked-out login (django-axes) into its 429 answer; last, as axes asks
    "axes.middleware.AxesMiddleware",
]


# ---------------------------------------------------------------- behind TLS
def _proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """``X-Forwarded-Proto`` → ``("HTTP_X_FORWARDED_PROTO", "https")``: requests whose proxy
    set that header to ``https`` count as secure. Only for a proxy that always sets (or strips)
    the header: otherwise clients could claim HTTPS themselves."""
    name = name.strip()
    if not name:
        return None
    if not re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", name):
        raise ImproperlyConfigured(f"FLEETWATCH_PROXY_SSL_HEADER must be a header name, not {name!r}")
    return "HTTP_" + name.upper().replace("-", "_"), "https"


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(env_str("FLEETWATCH_PROXY_SSL_HEADER"))
# Session and CSRF cookies only over HTTPS.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("FLEETWATCH_SECURE_COOKIES", False)
# Strict-Transport-Security on HTTPS responses (0: not sent).
SECURE_HSTS_SECONDS = env_int("FLEETWATCH_HSTS_SECONDS", 0)
if SECURE_HSTS_SECONDS < 0:
    raise ImproperlyConfigured(f"FLEETWATCH_HSTS_SECONDS must not be negative, not {SECURE_HSTS_SECONDS}")

ROOT_URLCONF = "fleetwatch.urls"
WSGI_APPLICATION = "fleetwatch.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fleetwatch.web.views.unread_notifications",
            ]
        },
    }
]

DATABASES = {
    "default": _database(env_str("FLEETWATCH_DATABASE", f"sqlite:///{DATA_DIR / 'fleetwatch.sqlite3'}"))
}

# The time-series store: a URL (sqlite://, postgresql://) or, in a settings override, a dict.
TIMESERIES_DATABASE = env_str("FLEETWATCH_TIMESERIES", f"sqlite:///{DATA_DIR / 'timeseries.sqlite3'}")

# Extra metric and chart types, as declarations (see docs/metrics.md); set in a settings module
# that imports this one, e.g. FLEETWATCH_CHARTS = {"temperature": {"title": …, "query": None, …}}.
# ---------------------------------------------------------------- agent reports
# A report's `time` may lie this far ahead of the server's clock (agents' clocks drift).
FLEETWATCH_CLOCK_TOLERANCE = timedelta(seconds=env_seconds("FLEETWATCH_CLOCK_TOLERANCE", 300))
# More interfaces than this in one report: 400 (each interface writes points and a series).
FLEETWATCH_MAX_INTERFACES = env_int("FLEETWATCH_MAX_INTERFACES", 256)

FLEETWATCH_METRICS: dict = {}
FLEETWATCH_CHARTS: dict = {}

# ---------------------------------------------------------------- background work (Celery)
# One setting picks the broker: amqp://… (RabbitMQ), redis://…, or by default a directory
# under the data dir, which needs no server (kombu's filesystem transport).
BROKER = env_str("FLEETWATCH_BROKER", "filesystem://")
FILESYSTEM_BROKER_POLLING_INTERVAL = 0.1  # seconds
CELERY_BROKER_URL = BROKER
if BROKER.startswith("filesystem://"):
    _queue_dir = DATA_DIR / "broker"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport, with messages written whole (see fleetwatch.core.broker)
    CELERY_BROKER_TRANSPORT = "fleetwatch.core.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "store_processed": False,
        "control_folder": str(_queue_dir / "control"),  # else kombu writes ./control
        # A worker whose processes all hold a task sleeps this long before it looks again
        # (kombu's default, 1 s, capped the embedded queue at ~2 tasks/s with idle CPUs).
        "polling_interval": FILESYSTEM_BROKER_POLLING_INTERVAL,
    }
CELERY_TASK_IGNORE_RESULT = True
# A task taken by a worker that dies is delivered again: checks and deliveries are idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CHECK_INTERVAL_SECONDS = int(env_str("FLEETWATCH_CHECK_INTERVAL", "300"))
# When set, replaces the registry's default alert tolerance (minutes) of new alert settings.
FLEETWATCH_ALERT_TOLERANCE = env_str("FLEETWATCH_ALERT_TOLERANCE", "")
# Seconds between alert evaluation passes over the values agents reported (docs/alerts.md).
ALERT_EVALUATION_INTERVAL_SECONDS = float(env_str("FLEETWATCH_ALERT_EVALUATION_INTERVAL", "5"))
if not ALERT_EVALUATION_INTERVAL_SECONDS > 0:
    raise ImproperlyConfigured("FLEETWATCH_ALERT_EVALUATION_INTERVAL must be a positive number of seconds")
CELERY_BEAT_SCHEDULE = {
    "run-checks": {"task": "fleetwatch.monitoring.tasks.run_checks", "schedule": CHECK_INTERVAL_SECONDS},
    "enforce-retention": {"task": "fleetwatch.monitoring.tasks.enforce_retention", "schedule": 3600},
    "evaluate-reported-values": {
        "task": "fleetwatch.monitoring.tasks.evaluate_pending",
        "schedule": ALERT_EVALUATION_INTERVAL_SECONDS,
    },
}

# ---------------------------------------------------------------- notifications
# Links in e-mails and webhook payloads point here.
FLEETWATCH_BASE_URL = env_str("FLEETWATCH_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Webhooks to loopback, link-local, private, unspecified and multicast addresses are refused
# (when saved, and when delivered after DNS resolution) unless this is true.
FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = env_bool("FLEETWATCH_WEBHOOK_ALLOW_PRIVATE", False)
# E-mail goes out only when an SMTP server is configured.
EMAIL_HOST = env_str("FLEETWATCH_EMAIL_HOST", "")
EMAIL_PORT = int(env_str("FLEETWATCH_EMAIL_PORT", "25"))
EMAIL_HOST_USER = env_str("FLEETWATCH_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("FLEETWATCH_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("FLEETWATCH_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("FLEETWATCH_EMAIL_FROM", "fleetwatch@localhost")
FLEETWATCH_EMAIL_ENABLED = bool(EMAIL_HOST)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------- login throttling (django-axes)
# Password logins (the web login page and the admin's) go through axes first: after
# FLEETWATCH_LOGIN_FAILURES failures of one username from one IP address, that pair is refused,
# right password or not, for FLEETWATCH_LOGIN_COOLOFF minutes. API tokens and device keys never
# call authenticate() and are not throttled. authenticate() now needs the request (in tests, log
# in with Client.force_login or a real POST to the login page, not Client.login).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("FLEETWATCH_LOGIN_FAILURES", 5)
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"FLEETWATCH_LOGIN_FAILURES must be at least 1, not {AXES_FAILURE_LIMIT}")
_cooloff_minutes = env_int("FLEETWATCH_LOGIN_COOLOFF", 15)
if _cooloff_minutes < 1:
    raise ImproperlyConfigured(f"FLEETWATCH_LOGIN_COOLOFF must be at least 1, not {_cooloff_minutes}")
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The cool-off runs from the lock-out: attempts while locked out do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A successful login forgets earlier failures of that username and address.
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "fleetwatch.web.views.locked_out"
# No start-up banner on every `fleetwatch …` command; failures and lock-outs are still logged.
AXES_VERBOSE = False

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:fleet"
LOGOUT_REDIRECT_URL = "web:login"

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve straight from the apps' static folders too, so a checkout works before collectstatic.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's parsers, hardened: a body that cannot be accepted is a 400, never a 500.
    "DEFAULT_PARSER_CLASSES": [
        "fleetwatch.api.parsers.JSONParser",
        "fleetwatch.api.parsers.FormParser",
        "fleetwatch.api.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "fleetwatch.api.exceptions.exception_handler",
    # Every list is paginated (?limit=&offset=) and filtered by its viewset's django-filter filterset.
    "DEFAULT_PAGINATION_CLASS": "fleetwatch.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI 3 schema (/api/v1/schema/) and its viewers (/api/v1/docs/, /api/v1/redoc/), public
# like the health endpoint; the viewers' files are ours (drf-spectacular-sidecar), no CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "Fleetwatch REST API",
    "DESCRIPTION": 'Devices, their charts and health, notifications. Errors: `{"detail": …}` '
    "(plus `errors` by field for a failed validation); lists: `?limit=&offset=`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Request bodies without the read-only fields, answers with them: what clients send and get.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "HealthStatusEnum": "fleetwatch.monitoring.models.HealthStatus",
        "DeliveryStatusEnum": "fleetwatch.notifications.models.WebhookDelivery.Status",
    },
    "PREPROCESSING_HOOKS": ["fleetwatch.api.schema.add_plain_views"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "fleetwatch.api.schema.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("FLEETWATCH_LOG_LEVEL", "INFO")},
}
