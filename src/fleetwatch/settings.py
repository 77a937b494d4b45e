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

from fleetwatch.core.env import (
    SettingsError,
    env_bool,
    env_choice,
    env_int,
    env_json,
    env_list,
    env_optional_int,
    env_seconds,
    env_str,
    env_url,
)
from fleetwatch.core.hosts import default_allowed_hosts, served_url
from fleetwatch.timeseries.loading import URL_SCHEMES as TIMESERIES_SCHEMES

# Every FLEETWATCH_* environment variable is read here, through the typed readers of
# fleetwatch.core.env (a bad value stops start-up with the variable's name), and listed in
# docs/configuration.md (tests/core/test_settings_declared.py keeps the two in step).

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
    raise SettingsError(
        f"FLEETWATCH_DATABASE must be a URL starting with sqlite:// or postgresql://, not {url!r}"
    )


SECRET_KEY = _secret_key()
DEBUG = env_bool("FLEETWATCH_DEBUG", False)
# The address `fleetwatch serve` listens on (`--bind` sets it for the server's processes).
FLEETWATCH_BIND = env_str("FLEETWATCH_BIND", "127.0.0.1:8000")
# Unset: the addresses Fleetwatch serves on (loopback; with 0.0.0.0 every address of this
# machine), so a router posting to the LAN address is not refused with 400 (core/hosts.py).
ALLOWED_HOSTS = env_list("FLEETWATCH_ALLOWED_HOSTS", default_allowed_hosts(FLEETWATCH_BIND))
# System checks an operator has looked at and accepts, e.g. security.W021 (no HSTS preload).
SILENCED_SYSTEM_CHECKS = env_list("FLEETWATCH_SILENCED_CHECKS", [])

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
    "fleetwatch.backups",
    "fleetwatch.messaging",
    "fleetwatch.usage",
    "fleetwatch.protocols",
    "fleetwatch.usage.sender",  # the sender half: its receiver and tasks (usage/sender/apps.py)
    "fleetwatch.web",
]

MIDDLEWARE = [
    # first: times the whole answer for GET /metrics (fleetwatch.core.instrumentation)
    "fleetwatch.core.instrumentation.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # pages render datetimes in the user's time zone (web/timezones.py)
    "fleetwatch.web.timezones.TimeZoneMiddleware",
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
        raise SettingsError(f"FLEETWATCH_PROXY_SSL_HEADER must be a header name, not {name!r}")
    return "HTTP_" + name.upper().replace("-", "_"), "https"


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(env_str("FLEETWATCH_PROXY_SSL_HEADER"))
# Session and CSRF cookies only over HTTPS.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("FLEETWATCH_SECURE_COOKIES", False)
# Strict-Transport-Security on HTTPS responses (0: not sent).
SECURE_HSTS_SECONDS = env_int("FLEETWATCH_HSTS_SECONDS", 0, minimum=0)
# ... for subdomains too, and asking browsers' preload lists to include the domain: both bind
# every host of the domain to HTTPS for years; `fleetwatch check --deploy` warns while off.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("FLEETWATCH_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("FLEETWATCH_HSTS_PRELOAD", False)
# Plain-HTTP requests are redirected to HTTPS (behind a proxy: needs FLEETWATCH_PROXY_SSL_HEADER).
SECURE_SSL_REDIRECT = env_bool("FLEETWATCH_SSL_REDIRECT", False)

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
                "fleetwatch.web.timezones.time_zone",
            ]
        },
    }
]

DATABASES = {
    "default": _database(
        env_url(
            "FLEETWATCH_DATABASE",
            f"sqlite:///{DATA_DIR / 'fleetwatch.sqlite3'}",
            ("sqlite", "postgresql", "postgres"),
            need_host=False,
        )
    )
}

# The time-series store: a URL (sqlite://, postgresql://) or, in a settings override, a dict.
TIMESERIES_DATABASE = env_url(
    "FLEETWATCH_TIMESERIES",
    f"sqlite:///{DATA_DIR / 'timeseries.sqlite3'}",
    sorted(TIMESERIES_SCHEMES),
    need_host=False,
)

# Extra metric and chart types, as declarations (see docs/metrics.md); set in a settings module
# that imports this one, e.g. FLEETWATCH_CHARTS = {"noise": {"title": …, "aggregates": [{"fn": "max", …}]}}.
# ---------------------------------------------------------------- agent reports
# A report's `time` may lie this far ahead of the server's clock (agents' clocks drift).
FLEETWATCH_CLOCK_TOLERANCE = timedelta(seconds=env_seconds("FLEETWATCH_CLOCK_TOLERANCE", 300))
# More interfaces than this in one report: 400 (each interface writes points and a series).
FLEETWATCH_MAX_INTERFACES = env_int("FLEETWATCH_MAX_INTERFACES", 256, minimum=1)

FLEETWATCH_METRICS: dict = {}
FLEETWATCH_CHARTS: dict = {}

# ---------------------------------------------------------------- background work (Celery)
# One setting picks the broker: amqp://… (RabbitMQ), redis://…, or by default a directory
# under the data dir, which needs no server (kombu's filesystem transport).
BROKER = env_url(
    "FLEETWATCH_BROKER",
    "filesystem://",
    ("filesystem", "amqp", "amqps", "pyamqp", "redis", "rediss"),
    need_host=False,
)
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
CHECK_INTERVAL_SECONDS = env_seconds("FLEETWATCH_CHECK_INTERVAL", 300, positive=True)
# When set, replaces the registry's default alert tolerance (minutes) of new alert settings.
FLEETWATCH_ALERT_TOLERANCE = env_optional_int("FLEETWATCH_ALERT_TOLERANCE", minimum=0)
# Seconds between alert evaluation passes over the values agents reported (docs/alerts.md).
ALERT_EVALUATION_INTERVAL_SECONDS = env_seconds("FLEETWATCH_ALERT_EVALUATION_INTERVAL", 5, positive=True)
# Tolerances shorter than the agents' report interval act on the first value (docs/alerts.md).
FLEETWATCH_TOLERANCE_INTERVAL = int(env_seconds("FLEETWATCH_TOLERANCE_INTERVAL", 300, minimum=1))
# A device that never reported is "waiting for first report" (unknown, no check runs, nothing
# is notified) for this long after it was created; then its checks run as usual (docs/alerts.md).
FLEETWATCH_FIRST_REPORT_GRACE = env_seconds("FLEETWATCH_FIRST_REPORT_GRACE", 86400)


def _auto_checks() -> list[str] | None:
    """Check type names, ``none`` for no check, or None (unset: each type's ``auto``)."""
    names = env_list("FLEETWATCH_AUTO_CHECKS", [])
    if not names:
        return None
    return [] if [name.lower() for name in names] == ["none"] else names


# The checks every new device gets (fleetwatch.core.checks reports unknown names).
FLEETWATCH_AUTO_CHECKS = _auto_checks()
# Parameter defaults per check type, e.g. {"ping": {"count": 3}} (docs/alerts.md).
FLEETWATCH_CHECK_PARAMS = env_json(
    "FLEETWATCH_CHECK_PARAMS",
    {},
    lambda value: (
        isinstance(value, dict)
        and all(
            isinstance(params, dict)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in params.values())
            for params in value.values()
        )
    ),
    'an object of check types to objects of integer parameters, e.g. {"ping": {"count": 3}}',
)
# Windows in which the wifi_clients check pauses: [start, end] pairs of MM-DD or HH:MM.
FLEETWATCH_WIFI_CLIENTS_SNOOZE = env_json(
    "FLEETWATCH_WIFI_CLIENTS_SNOOZE",
    [],
    lambda value: (
        isinstance(value, list)
        and all(
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(edge, str) for edge in pair)
            and (
                all(re.fullmatch(r"\d\d-\d\d", edge) for edge in pair)
                or all(re.fullmatch(r"\d\d:\d\d", edge) for edge in pair)
            )
            for pair in value
        )
    ),
    'a list of [start, end] pairs of MM-DD dates or HH:MM times, e.g. [["12-24", "01-06"], ["22:00", "06:00"]]',
)
# Fernet keys of stored credentials (devices' SSH logins, iperf3 passwords): the first
# encrypts, every one decrypts (rotation: docs/iperf3.md). Unset: one derived from SECRET_KEY.
FLEETWATCH_CREDENTIALS_KEYS = env_list("FLEETWATCH_CREDENTIALS_KEYS", [])
# How long an iperf3 check may hold its server before another device may take it (a crashed
# check's lock expires): seconds.
FLEETWATCH_IPERF3_LOCK_EXPIRE = env_seconds("FLEETWATCH_IPERF3_LOCK_EXPIRE", 600, positive=True)
CELERY_BEAT_SCHEDULE = {
    "run-checks": {"task": "fleetwatch.monitoring.tasks.run_checks", "schedule": CHECK_INTERVAL_SECONDS},
    "enforce-retention": {"task": "fleetwatch.monitoring.tasks.enforce_retention", "schedule": 3600},
    # Backends that seal rollups (InfluxDB) roll up live points up to 2 hours behind the clock;
    # charts read raw points after the horizon, so a late seal costs time, never exactness.
    "seal-rollups": {"task": "fleetwatch.monitoring.tasks.seal_rollups", "schedule": 600},
    "evaluate-reported-values": {
        "task": "fleetwatch.monitoring.tasks.evaluate_pending",
        "schedule": ALERT_EVALUATION_INTERVAL_SECONDS,
    },
}

# ---------------------------------------------------------------- backups
# The datacenter of a backup run's host, when the runner does not say: a regular expression with
# a `datacenter` group, searched in the host's FQDN (default: its second label, as wmfbackups
# reads `db1001.eqiad.wmnet`; docs/backups.md).
FLEETWATCH_BACKUP_DATACENTER_PATTERN = env_str(
    "FLEETWATCH_BACKUP_DATACENTER_PATTERN", r"^[^.]+\.(?P<datacenter>[^.]+)\."
)
try:
    if "datacenter" not in re.compile(FLEETWATCH_BACKUP_DATACENTER_PATTERN).groupindex:
        raise re.error("no (?P<datacenter>…) group")
except re.error as exc:
    raise SettingsError(
        "FLEETWATCH_BACKUP_DATACENTER_PATTERN must be a regular expression with a (?P<datacenter>…) "
        f"group, e.g. ^[^.]+\\.(?P<datacenter>[^.]+)\\., not {FLEETWATCH_BACKUP_DATACENTER_PATTERN!r} ({exc})"
    ) from None
# How often the worker evaluates every backup job's checks (freshness/size, long-running, schedule).
FLEETWATCH_BACKUP_CHECK_INTERVAL = env_seconds("FLEETWATCH_BACKUP_CHECK_INTERVAL", 300, positive=True)
CELERY_BEAT_SCHEDULE["check-backups"] = {
    "task": "fleetwatch.backups.tasks.check_backups",
    "schedule": FLEETWATCH_BACKUP_CHECK_INTERVAL,
}
# Closed runs: their sizes and durations charted, their jobs judged again, in one batch
# (fleetwatch.backups.pending), as often as reported values are evaluated.
CELERY_BEAT_SCHEDULE["judge-closed-backups"] = {
    "task": "fleetwatch.backups.tasks.judge_closed_backups",
    "schedule": ALERT_EVALUATION_INTERVAL_SECONDS,
}
# `fleetwatch backup run` on a database host: the Fleetwatch server it reports to and its runner
# token (--url and --token override them). Read by that command only; it needs no database.
FLEETWATCH_URL = env_url("FLEETWATCH_URL", "", ("http", "https"))
FLEETWATCH_RUNNER_TOKEN = env_str("FLEETWATCH_RUNNER_TOKEN")
# Import from a wmfbackups metadata database (`backups`, `backup_files`, `backup_objects`): the
# worker imports new runs every interval while the URL is set (docs/backups.md).
FLEETWATCH_BACKUP_IMPORT_URL = env_url("FLEETWATCH_BACKUP_IMPORT_URL", "", ("mysql", "mariadb"))
FLEETWATCH_BACKUP_IMPORT_ORGANIZATION = env_str("FLEETWATCH_BACKUP_IMPORT_ORGANIZATION")
FLEETWATCH_BACKUP_IMPORT_INTERVAL = env_seconds("FLEETWATCH_BACKUP_IMPORT_INTERVAL", 600, positive=True)
if FLEETWATCH_BACKUP_IMPORT_URL:
    if not FLEETWATCH_BACKUP_IMPORT_ORGANIZATION:
        raise SettingsError(
            "FLEETWATCH_BACKUP_IMPORT_URL needs FLEETWATCH_BACKUP_IMPORT_ORGANIZATION: the slug of the "
            "organization the imported runs belong to"
        )
    CELERY_BEAT_SCHEDULE["import-wmfbackups"] = {
        "task": "fleetwatch.backups.tasks.import_wmfbackups",
        "schedule": FLEETWATCH_BACKUP_IMPORT_INTERVAL,
    }

# ---------------------------------------------------------------- usage metrics (collector)
# This server is a collector of anonymous usage metrics (Clean Insights uploads, ours and
# OpenWISP's): POST /api/v1/usage/collect/ and the Usage pages (docs/usage-collector.md).
FLEETWATCH_USAGE_COLLECTOR = env_bool("FLEETWATCH_USAGE_COLLECTOR", False)
# Uploads accepted per source address (DRF's "<n>/<second|minute|hour|day>"); more is a 429.
FLEETWATCH_USAGE_COLLECT_RATE = env_str("FLEETWATCH_USAGE_COLLECT_RATE", "120/minute")
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", FLEETWATCH_USAGE_COLLECT_RATE):
    raise SettingsError(
        "FLEETWATCH_USAGE_COLLECT_RATE must be <count>/<second|minute|hour|day>, e.g. 120/minute, not "
        f"{FLEETWATCH_USAGE_COLLECT_RATE!r}"
    )

# ---------------------------------------------------------------- device channels
# MQTT and AMQP through RabbitMQ (fleetwatch.messaging, docs/channels.md). The server's own AMQP
# account (configure rights on the vhost in the URL's path) for `fleetwatch consume`; unset, device
# channels are off and devices use HTTP only.
FLEETWATCH_CHANNELS_BROKER_URL = env_url("FLEETWATCH_CHANNELS_BROKER_URL", "", ("amqp", "amqps"))
# The broker's management HTTP API: each device's own broker user and topic permissions are made there.
FLEETWATCH_CHANNELS_BROKER_API_URL = env_url("FLEETWATCH_CHANNELS_BROKER_API_URL", "", ("http", "https"))
# What devices are told to connect to (no credentials): default the broker URL's host on the
# protocols' standard ports.
FLEETWATCH_CHANNELS_MQTT_URL = env_url("FLEETWATCH_CHANNELS_MQTT_URL", "", ("mqtt", "mqtts"))
FLEETWATCH_CHANNELS_AMQP_URL = env_url("FLEETWATCH_CHANNELS_AMQP_URL", "", ("amqp", "amqps"))
# The vhost holding RabbitMQ's event exchange (amq.rabbitmq.event, rabbitmq_event_exchange's
# `event_exchange.vhost`): connection events of devices come from there. Unset: the broker URL's vhost.
FLEETWATCH_CHANNELS_EVENTS_VHOST = env_str("FLEETWATCH_CHANNELS_EVENTS_VHOST", "")
if FLEETWATCH_CHANNELS_BROKER_URL and not FLEETWATCH_CHANNELS_BROKER_API_URL:
    raise SettingsError(
        "FLEETWATCH_CHANNELS_BROKER_URL needs FLEETWATCH_CHANNELS_BROKER_API_URL: the RabbitMQ management "
        "API (e.g. http://user:password@127.0.0.1:15672/api/) where each device's broker user is made"
    )
if FLEETWATCH_CHANNELS_BROKER_URL:
    # Accounts the broker missed (it was down) are made, and deactivated devices' removed, each minute.
    CELERY_BEAT_SCHEDULE["reconcile-broker-accounts"] = {
        "task": "fleetwatch.messaging.tasks.reconcile_broker_accounts",
        "schedule": 60,
    }

# ---------------------------------------------------------------- Prometheus (GET /metrics, docs/prometheus.md)
# Devices and samples of device metrics one scrape shows at most; the rest is left out and
# counted (fleetwatch_scrape_devices_dropped, fleetwatch_scrape_samples_dropped).
FLEETWATCH_PROMETHEUS_MAX_DEVICES = env_int("FLEETWATCH_PROMETHEUS_MAX_DEVICES", 1000, minimum=1)
FLEETWATCH_PROMETHEUS_MAX_SAMPLES = env_int("FLEETWATCH_PROMETHEUS_MAX_SAMPLES", 50000, minimum=1)
# Where this host's processes keep the server's own latency histograms and error counters
# (prometheus-client's multiprocess files, one per process; fleetwatch.core.instrumentation).
FLEETWATCH_PROMETHEUS_DIR = (
    Path(env_str("FLEETWATCH_PROMETHEUS_DIR", str(DATA_DIR / "prometheus"))).expanduser().resolve()
)

# ---------------------------------------------------------------- device commands
# A command not finished this long after it was queued expires (a device offline for longer
# never runs it); the worker's pass marks such commands every minute (fleetwatch.messaging.commands).
FLEETWATCH_COMMAND_EXPIRY = timedelta(
    seconds=env_seconds("FLEETWATCH_COMMAND_EXPIRY", 7 * 86400, minimum=60, maximum=366 * 86400)
)
CELERY_BEAT_SCHEDULE["expire-commands"] = {
    "task": "fleetwatch.messaging.tasks.expire_commands",
    "schedule": 60,
}

# ---------------------------------------------------------------- usage metrics (docs/usage-metrics.md)
# Fleetwatch reports its versions, OS, install method and time-series backend anonymously
# (opt-out on the System information page); false switches the whole sender off. Nothing is
# ever sent while DEBUG is on.
FLEETWATCH_USAGE_METRICS = env_bool("FLEETWATCH_USAGE_METRICS", True)
# Where the reports go (a Clean Insights collector). The project must own this address before a
# release ships with it as the default.
FLEETWATCH_USAGE_COLLECTOR_URL = env_url(
    "FLEETWATCH_USAGE_COLLECTOR_URL", "https://usage.fleetwatch.org/api/v1/usage/collect/", ("http", "https")
)
# The payload's `idsite` (the collector's site id).
FLEETWATCH_USAGE_SITE_ID = env_int("FLEETWATCH_USAGE_SITE_ID", 1, minimum=0)
# How this deployment was installed, as reported: pip, docker, ansible, deb …
FLEETWATCH_INSTALL_METHOD = env_str("FLEETWATCH_INSTALL_METHOD", "unspecified")
if FLEETWATCH_USAGE_METRICS:
    CELERY_BEAT_SCHEDULE["usage-heartbeat"] = {
        "task": "fleetwatch.usage.sender.tasks.send_heartbeat",
        "schedule": 86400,
    }
    # Delivers queued reports; retries follow their backoff (fleetwatch.usage.sender.delivery).
    CELERY_BEAT_SCHEDULE["usage-outbox"] = {
        "task": "fleetwatch.usage.sender.tasks.flush_outbox",
        "schedule": 60,
    }

# ---------------------------------------------------------------- notifications
# Links in e-mails and webhook payloads point here. Unset, it follows the served address:
# FLEETWATCH_BIND's (below), or a request's own (fleetwatch.notifications.links). Set it in production.
_BASE_URL_GIVEN = env_url("FLEETWATCH_BASE_URL", "", ("http", "https")).rstrip("/")
# Webhooks to loopback, link-local, private, unspecified and multicast addresses are refused
# (when saved, and when delivered after DNS resolution) unless this is true.
FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = env_bool("FLEETWATCH_WEBHOOK_ALLOW_PRIVATE", False)
# E-mail goes out only when an SMTP server is configured.
EMAIL_HOST = env_str("FLEETWATCH_EMAIL_HOST", "")
EMAIL_PORT = env_int("FLEETWATCH_EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("FLEETWATCH_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_str("FLEETWATCH_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("FLEETWATCH_EMAIL_TLS", False)  # STARTTLS (port 587)
EMAIL_USE_SSL = env_bool("FLEETWATCH_EMAIL_SSL", False)  # TLS from the first byte (port 465)
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
AXES_FAILURE_LIMIT = env_int("FLEETWATCH_LOGIN_FAILURES", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("FLEETWATCH_LOGIN_COOLOFF", 15, minimum=1))
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
    # Token first: DRF's 401 takes its WWW-Authenticate header from the first class, and only a
    # class that sends one (Token does, Session does not) makes a missing login a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
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
        "BackupRunStatusEnum": "fleetwatch.backups.models.RunStatus",
        "ClosingStatusEnum": "fleetwatch.backups.models.CLOSED_STATUSES",
        "BackupCheckKindEnum": "fleetwatch.backups.models.CheckKind",
        "BackupOriginEnum": "fleetwatch.backups.models.Origin",
        "RunnerOriginEnum": "fleetwatch.backups.models.RUNNER_ORIGINS",
        "KindEnum": "fleetwatch.notifications.models.Kind",
        "CommandActionEnum": "fleetwatch.messaging.models.CommandAction",
        "CommandStatusEnum": "fleetwatch.messaging.models.CommandStatus",
        "DeviceChannelEnum": "fleetwatch.messaging.models.Channel",
        "EnrollmentStatusEnum": "fleetwatch.inventory.models.EnrollmentStatus",
    },
    "PREPROCESSING_HOOKS": ["fleetwatch.api.schema.add_plain_views"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "fleetwatch.api.schema.add_error_responses",
    ],
}

# The console: Fleetwatch's own loggers (``fleetwatch.*``) at FLEETWATCH_LOG_LEVEL, among them
# ``fleetwatch.events``, one line per event an operator acts on (a device's health changing, a
# notification sent or failed, a time-series store outage and its end); libraries (Celery, Django,
# gunicorn, clients) at WARNING, or at FLEETWATCH_LOG_LEVEL when that is higher. Celery's worker
# takes this configuration as it is (fleetwatch.celery): no line per task.
FLEETWATCH_LOG_LEVEL = env_choice(
    "FLEETWATCH_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            "datefmt": "%Y-%m-%d %H:%M:%S",
        }
    },
    "filters": {
        # A 503 (storage down or busy: "retry") is logged once, by fleetwatch.core.errors, with its
        # cause; django.request would add a second line for it. Its 500s are still logged.
        "not_503": {
            "()": "django.utils.log.CallbackFilter",
            "callback": lambda r: getattr(r, "status_code", 0) != 503,
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "console"}},
    "root": {"handlers": ["console"], "level": max("WARNING", FLEETWATCH_LOG_LEVEL, key=_LEVELS.index)},
    "loggers": {
        "fleetwatch": {"level": FLEETWATCH_LOG_LEVEL},
        "django.request": {"filters": ["not_503"]},
    },
}
if BROKER.startswith("filesystem://"):
    # kombu warns that the embedded broker's URL has no host name: it needs none.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}

# ---------------------------------------------------------------- processes (`fleetwatch serve`, `worker`)
# FLEETWATCH_BIND is read above, next to ALLOWED_HOSTS, which follows it.


# The base URL as set, or the served address (`fleetwatch serve --bind` exports FLEETWATCH_BIND
# to the server and the worker it starts, so both derive the same).
FLEETWATCH_BASE_URL_IS_SET = bool(_BASE_URL_GIVEN)
FLEETWATCH_BASE_URL = _BASE_URL_GIVEN or served_url(FLEETWATCH_BIND)
FLEETWATCH_WORKERS = env_int("FLEETWATCH_WORKERS", 2, minimum=1)  # gunicorn processes
FLEETWATCH_THREADS = env_int("FLEETWATCH_THREADS", 4, minimum=1)  # threads per gunicorn process
FLEETWATCH_WORKER_CONCURRENCY = env_int("FLEETWATCH_WORKER_CONCURRENCY", 2, minimum=1)  # Celery processes
# Threads per web process computing a page's charts side by side (server databases).
FLEETWATCH_CHART_THREADS = env_int("FLEETWATCH_CHART_THREADS", 4, minimum=1)

# ---------------------------------------------------------------- line protocol in (protocols/write.py)
# Largest body /write and /api/v2/write accept, in bytes, before and after gzip (InfluxDB's
# max-body-size, 25 MB by default); larger is a 413.
FLEETWATCH_LINEPROTOCOL_MAX_BODY = env_int("FLEETWATCH_LINEPROTOCOL_MAX_BODY", 25_000_000, minimum=1024)
# The tag naming the device a line is about (Telegraf's "host"), matched against device names.
FLEETWATCH_LINEPROTOCOL_HOST_TAG = env_str("FLEETWATCH_LINEPROTOCOL_HOST_TAG", "host").strip() or "host"
# A host the organization has no device of: "create" it (as InfluxDB accepts any new host) or
# "refuse" the request (400 naming the host, nothing written).
FLEETWATCH_LINEPROTOCOL_UNKNOWN_HOSTS = env_choice(
    "FLEETWATCH_LINEPROTOCOL_UNKNOWN_HOSTS", "create", ("create", "refuse")
)

# ---------------------------------------------------------------- `fleetwatch serve --demo` (`make run`)
FLEETWATCH_DEMO_DEVICES = env_int("FLEETWATCH_DEMO_DEVICES", 8, minimum=1)
FLEETWATCH_DEMO_DAYS = env_int("FLEETWATCH_DEMO_DAYS", 1, minimum=0)
FLEETWATCH_DEMO_BACK_AFTER = env_int("FLEETWATCH_DEMO_BACK_AFTER", 15, minimum=0)  # minutes (0: never)
FLEETWATCH_DEMO_WEBHOOK = env_url("FLEETWATCH_DEMO_WEBHOOK", "", ("http", "https"))

# ---------------------------------------------------------------- the fleet page's map (web/fleet.py)
# Leaflet's tile URL template ({z}/{x}/{y}, optionally {s}); "none" (the default: no address
# outside this machine unless the operator names one): no tile server, the markers on a blank
# map. The browser fetches the tiles, not the server.
_MAP_TILES = env_str("FLEETWATCH_MAP_TILES", "none").strip()
if _MAP_TILES.lower() == "none":
    FLEETWATCH_MAP_TILES = ""
elif re.match(r"https?://[^/\s]+/\S*", _MAP_TILES) and all(k in _MAP_TILES for k in ("{z}", "{x}", "{y}")):
    FLEETWATCH_MAP_TILES = _MAP_TILES
else:
    raise SettingsError(
        "FLEETWATCH_MAP_TILES must be an http:// or https:// URL template with {z}, {x} and {y} "
        f"(e.g. https://tiles.example.org/{{z}}/{{x}}/{{y}}.png), or none, not {_MAP_TILES!r}"
    )
