"""Project settings, read from the environment through django-environ.

Every variable is documented with its default in `.env.example`. Groups below follow concerns:
core, database, cache and Celery, security, static files, API, logging.
"""

import math
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")


def _split(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """A comma-separated variable as a list: items trimmed, empty ones dropped."""
    raw = env.ENVIRON.get(name)
    return _split(raw) if raw is not None else list(default or [])


def _valid_hosts(hosts: list[str]) -> list[str]:
    for host in hosts:
        if any(char in host for char in " /:") and not host.startswith("["):
            raise ImproperlyConfigured(
                f"ALLOWED_HOSTS: {host!r} is not a host name (no scheme, port or path; "
                "separate names with commas)."
            )
    return hosts


def _required_in_production(name: str, dev_default):
    """Return the variable, or the development default when DEBUG is on.

    With DEBUG off a missing value stops start-up with a message that says what to set.
    """
    if env.ENVIRON.get(name, "").strip(" ,"):
        return env.ENVIRON[name]
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} must be set when DEBUG is off (see .env.example and the README's "
        f"'Production' section)."
    )


# --- Core -------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = _required_in_production("SECRET_KEY", "django-insecure-development-only-key")
ALLOWED_HOSTS = _valid_hosts(
    _split(_required_in_production("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]"))
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "crm",
    "goals",
    "supervision",
    "tracking",
]

MIDDLEWARE = [
    "crm.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "crm.middleware.RequestTooLargeMiddleware",
    "crm.middleware.TimezoneMiddleware",
    # The view's area is found once (request.crm_area, in process_view) for the two below that
    # read it; process_view runs top down, so it comes first.
    "crm.switches.middleware.ViewAreaMiddleware",
    "crm.switches.middleware.OfflineAreasMiddleware",
    "crm.ops.middleware.RefusalCountMiddleware",
]

# Machine-to-machine paths (a public key of their own, no session or pages) served through
# these only: the request id, HTTPS and the security headers, the 413 for large bodies, no health
# check of the database connection per request (crm.wsgi, crm.middleware).
LEAN_PATHS = ["/t/"]
LEAN_MIDDLEWARE = [
    "crm.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "crm.middleware.RequestTooLargeMiddleware",
    "crm.middleware.TrustedConnectionMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.navigation",
            ],
            # Every time of day a page shows carries its zone: the `moment` filter everywhere.
            "builtins": ["crm.templatetags.moments"],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Dates and times that a page prints without a format of its own carry their zone (crm/formats).
FORMAT_MODULE_PATH = ["crm.formats"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Database ---------------------------------------------------------------------------------
# No DATABASE_URL: an SQLite file next to manage.py (the embedded default).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while a job writes; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on busy_timeout instead of failing mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # Persistent connections (a process reuses its connection for CONN_MAX_AGE seconds), each
    # checked before a request reuses it: one the server or a failover dropped is replaced, not
    # an error answered.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database host that stops answering costs a request (and /health/) seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DATABASE_CONNECT_TIMEOUT", default=3
    )
    # No JIT compilation: it pays off for long analytical scans, and this application runs short
    # indexed queries. The planner prices a goal recalculation's correlated subqueries high, so
    # PostgreSQL would spend about a second compiling a query that runs in a third of one
    # (bench/, goals_recalculate). A server-wide setting cannot be relied on, so it is said here.
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")

# DATABASE_REPLICA_URL: a streaming replica of the primary (PostgreSQL only). Unset, there is no
# replica alias and every read is the primary's. Set, the tracking dashboards and their CSV read
# it (crm.replica: only inside that scope; writes, the worker and every other page stay on the
# primary) while it is at most DATABASE_REPLICA_MAX_LAG seconds behind. The tests' replica is
# the test database itself (TEST MIRROR: no second test database is created).
try:
    DATABASE_REPLICA_MAX_LAG = int(env.str("DATABASE_REPLICA_MAX_LAG", default="30"))
except ValueError:
    DATABASE_REPLICA_MAX_LAG = -1
if DATABASE_REPLICA_MAX_LAG < 0:
    raise ImproperlyConfigured("DATABASE_REPLICA_MAX_LAG is a whole number of seconds: 0 or more.")
DATABASE_REPLICA_IS_PRIMARY = False
if env.str("DATABASE_REPLICA_URL", default="").strip():
    _replica = env.db("DATABASE_REPLICA_URL")
    # The primary's own database (the tests' mirror, or both variables alike): read on the
    # primary's connection, with no lag to ask about.
    DATABASE_REPLICA_IS_PRIMARY = all(
        _replica.get(key) == DATABASES["default"].get(key) for key in ("HOST", "PORT", "NAME")
    )
    if (
        DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
        or _replica["ENGINE"] != DATABASES["default"]["ENGINE"]
    ):
        raise ImproperlyConfigured(
            "DATABASE_REPLICA_URL is a streaming replica of the PostgreSQL at DATABASE_URL "
            "(postgres://…); unset it to read the primary."
        )
    _replica["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    _replica["CONN_HEALTH_CHECKS"] = True
    _replica.setdefault("OPTIONS", {})["connect_timeout"] = env.int(
        "DATABASE_REPLICA_CONNECT_TIMEOUT", default=2
    )
    _replica["OPTIONS"].setdefault("options", "-c jit=off")
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["replica"] = _replica
    DATABASE_ROUTERS = ["crm.replica.ReplicaRouter"]

# --- Cache and Celery -------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "crm",
            # A Redis that stops answering must cost a request one second, not a hang.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The broker defaults to REDIS_URL; CELERY_BROKER_URL may point it at another Redis database.
# Without either, Celery is embedded: the queue is a folder (kombu's filesystem transport) that
# the web process, the worker and beat started by `make run` share (README, "Background jobs").
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_EMBEDDED = not CELERY_BROKER_URL
CELERY_DATA_DIR = Path(env.str("CELERY_DATA_DIR", default=str(BASE_DIR / "var" / "celery")))
if CELERY_EMBEDDED:
    CELERY_BROKER_URL = "filesystem://localhost/"
    _queue = CELERY_DATA_DIR / "queue"
    _control = CELERY_DATA_DIR / "control"
    for _folder in (_queue, _control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "control_folder": str(_control),
    }
CELERY_RESULT_BACKEND = None if CELERY_EMBEDDED else CELERY_BROKER_URL
# Tasks run in the calling process, after commit, without any worker: only for tests that need
# no worker; `make run` and production run a real one.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Each job has its own time limit (crm.jobs); this one bounds every other task.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "crm.jobs.scheduler:RegistryScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(CELERY_DATA_DIR / "beat-schedule")
# Extra task modules a worker and beat load (tests use it for jobs of their own).
CELERY_IMPORTS = env_list("CELERY_IMPORTS")

# A heartbeat older than this makes the health check call the worker or beat stale.
HEALTH_HEARTBEAT_STALE_AFTER = env.int("HEALTH_HEARTBEAT_STALE_AFTER", default=180)

# --- Security ---------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The health endpoints answer plain HTTP so that load balancers and compose can probe them.
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): every script, style, image and font comes from the app
# itself; no inline script or style (htmx's own indicator style is off, see base.html). With
# DEBUG on the policy is report-only, so Django's debug pages still render and violations show
# in the browser's console.
_CSP = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
if DEBUG:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# Larger bodies are refused with 413 (crm.middleware.RequestTooLargeMiddleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1_048_576)

# Failed logins allowed per username within the window (seconds) before it answers 429.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=15 * 60)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Live pages (a goal's progress, a goals list) ask for news this often, in seconds.
LIVE_REFRESH_SECONDS = env.int("LIVE_REFRESH_SECONDS", default=20)
# A rep's monthly plan is due by the end of this day of the month, in the rep's zone.
PLAN_DEADLINE_DAY = env.int("PLAN_DEADLINE_DAY", default=5)
if not 1 <= PLAN_DEADLINE_DAY <= 28:
    raise ImproperlyConfigured("PLAN_DEADLINE_DAY is a day every month has: 1 to 28.")

# --- Supervision -------------------------------------------------------------------------------
# Who writes the findings of a customer or route review: "rules" (built in, offline) or "llm",
# any OpenAI-compatible chat-completions API (base URL, key, model); on any error of the
# language model the rules answer, and the review says so.
SUPERVISION_ANALYSIS_PROVIDER = env.str("SUPERVISION_ANALYSIS_PROVIDER", default="rules")
if SUPERVISION_ANALYSIS_PROVIDER not in {"rules", "llm"}:
    raise ImproperlyConfigured('SUPERVISION_ANALYSIS_PROVIDER is "rules" or "llm".')
SUPERVISION_LLM_BASE_URL = env.str("SUPERVISION_LLM_BASE_URL", default="").rstrip("/")
SUPERVISION_LLM_API_KEY = env.str("SUPERVISION_LLM_API_KEY", default="")
SUPERVISION_LLM_MODEL = env.str("SUPERVISION_LLM_MODEL", default="")
SUPERVISION_LLM_TIMEOUT = env.float("SUPERVISION_LLM_TIMEOUT", default=8.0)
# New (not cached) reviews per user and kind of review, per window of seconds.
SUPERVISION_ANALYSIS_LIMIT = env.int("SUPERVISION_ANALYSIS_LIMIT", default=1)
SUPERVISION_ANALYSIS_WINDOW = env.int("SUPERVISION_ANALYSIS_WINDOW", default=10)
# What the reviews flag: a stop under or over its plan by more than these percents, the few
# customers that make up this share of a route's shortfall, a customer with no sale for this
# many days, and how many earlier days a customer review reads.
SUPERVISION_UNDER_PLAN_PERCENT = env.int("SUPERVISION_UNDER_PLAN_PERCENT", default=20)
SUPERVISION_OVER_PLAN_PERCENT = env.int("SUPERVISION_OVER_PLAN_PERCENT", default=20)
SUPERVISION_SHORTFALL_SHARE = env.int("SUPERVISION_SHORTFALL_SHARE", default=80)
SUPERVISION_DORMANT_DAYS = env.int("SUPERVISION_DORMANT_DAYS", default=21)
SUPERVISION_HISTORY_SESSIONS = env.int("SUPERVISION_HISTORY_SESSIONS", default=8)
# Reviews are kept this many days (a job deletes older ones).
SUPERVISION_ANALYSIS_KEEP_DAYS = env.int("SUPERVISION_ANALYSIS_KEEP_DAYS", default=30)
# A route's day never saved can still be reviewed this many days after it (then read-only).
SUPERVISION_REVIEW_DAYS = env.int("SUPERVISION_REVIEW_DAYS", default=7)
if SUPERVISION_REVIEW_DAYS < 0:
    raise ImproperlyConfigured("SUPERVISION_REVIEW_DAYS is a number of days: 0 or more.")

# --- Tracking ----------------------------------------------------------------------------------
# Requests a minute per tenant key (the JS snippet and the API), per tenant and browser
# address, and per tenant for webhooks; past them, 429 with Retry-After (a tenant may have its
# own, in Django admin). Counted in the shared cache; if it is down, events are still taken.
TRACKING_RATE_PER_MINUTE = env.int("TRACKING_RATE_PER_MINUTE", default=6000)
TRACKING_CLIENT_RATE_PER_MINUTE = env.int("TRACKING_CLIENT_RATE_PER_MINUTE", default=300)
TRACKING_WEBHOOK_RATE_PER_MINUTE = env.int("TRACKING_WEBHOOK_RATE_PER_MINUTE", default=100)
# The proxies in front of the app (addresses or networks): only their X-Forwarded-For counts.
TRACKING_TRUSTED_PROXIES = env_list("TRACKING_TRUSTED_PROXIES", default=[])
# How long a process trusts what it knows of a key (a rotation takes effect within this).
TRACKING_KEY_CACHE_SECONDS = env.int("TRACKING_KEY_CACHE_SECONDS", default=5)
# Hours a rotated key and webhook secret keep working, so websites and providers move over:
# at most a year (a key kept longer is not rotated; far beyond, its expiry is no date). Read
# as Python reads a number: django-environ's float() drops letters ("1e309" reads 1309).
try:
    TRACKING_KEY_GRACE_HOURS = float(env.str("TRACKING_KEY_GRACE_HOURS", default="24"))
except ValueError:
    TRACKING_KEY_GRACE_HOURS = math.nan
if not (math.isfinite(TRACKING_KEY_GRACE_HOURS) and 0 <= TRACKING_KEY_GRACE_HOURS <= 8760):
    raise ImproperlyConfigured("TRACKING_KEY_GRACE_HOURS is a number of hours: 0 to 8760.")
# A webhook signed longer ago than this (seconds), or this far ahead, is refused (a replay).
TRACKING_WEBHOOK_TOLERANCE = env.int("TRACKING_WEBHOOK_TOLERANCE", default=300)
# The worker: rows a batch, batches at a time (PostgreSQL; each its own connection), how long
# a batch's transaction may hold its rows (seconds), attempts before a row is FAILED.
TRACKING_PROCESS_BATCH = env.int("TRACKING_PROCESS_BATCH", default=1000)
TRACKING_PROCESS_THREADS = env.int("TRACKING_PROCESS_THREADS", default=2)
TRACKING_LEASE_SECONDS = env.int("TRACKING_LEASE_SECONDS", default=120)
TRACKING_MAX_ATTEMPTS = env.int("TRACKING_MAX_ATTEMPTS", default=3)
# Processed raw rows older than this (days) are deleted by the job purge_tracking.
TRACKING_RETENTION_DAYS = env.int("TRACKING_RETENTION_DAYS", default=90)
# The dashboards' rollups (events a minute, page views an hour, sessions a quarter) older than
# this (days) are deleted by the same job: the dashboards read the last day, and
# rebuild_tracking_rollups counts any span again from the events.
try:
    TRACKING_ROLLUP_DAYS = env.int("TRACKING_ROLLUP_DAYS", default=7)
except ValueError:
    TRACKING_ROLLUP_DAYS = 0
if not 2 <= TRACKING_ROLLUP_DAYS <= 36_500:
    raise ImproperlyConfigured(
        "TRACKING_ROLLUP_DAYS is a whole number of days, at least 2: the dashboards read a day."
    )
# The queue in front of the raw table (docs/tracking.md, "Ingestion modes"): "" stores each
# request's events before answering; "redis" appends them to a Redis Stream, answers 202 once
# Redis has them, and the job drain_tracking_queue stores them. Past TRACKING_QUEUE_MAX_BACKLOG
# requests waiting, the endpoints answer 503 with Retry-After. An entry a drainer took and left
# unacknowledged this many seconds (it died) is taken over by another.
TRACKING_QUEUE = env.str("TRACKING_QUEUE", default="")
if TRACKING_QUEUE not in ("", "redis"):
    raise ImproperlyConfigured('TRACKING_QUEUE is "redis" or empty (no queue).')
TRACKING_QUEUE_URL = env.str("TRACKING_QUEUE_URL", default=REDIS_URL)
if TRACKING_QUEUE and not TRACKING_QUEUE_URL:
    raise ImproperlyConfigured("TRACKING_QUEUE=redis needs REDIS_URL (or TRACKING_QUEUE_URL).")
if TRACKING_QUEUE and DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The drainer stores a batch of entries with PostgreSQL's COPY; the queue is for
    # a load one PostgreSQL's inserts cannot take, never a SQLite's.
    raise ImproperlyConfigured("TRACKING_QUEUE=redis needs PostgreSQL (DATABASE_URL).")
TRACKING_QUEUE_MAX_BACKLOG = env.int("TRACKING_QUEUE_MAX_BACKLOG", default=200_000)
TRACKING_QUEUE_CLAIM_SECONDS = env.int("TRACKING_QUEUE_CLAIM_SECONDS", default=60)
# Entries a drainer reads at a time, and how long one run of the job keeps draining (seconds).
TRACKING_QUEUE_DRAIN_BATCH = env.int("TRACKING_QUEUE_DRAIN_BATCH", default=100)
TRACKING_QUEUE_DRAIN_SECONDS = env.int("TRACKING_QUEUE_DRAIN_SECONDS", default=25)
if min(TRACKING_QUEUE_MAX_BACKLOG, TRACKING_QUEUE_CLAIM_SECONDS, TRACKING_QUEUE_DRAIN_BATCH,
       TRACKING_QUEUE_DRAIN_SECONDS) < 1:  # fmt: skip
    raise ImproperlyConfigured("The TRACKING_QUEUE_ numbers are whole numbers from 1 up.")

# --- Email -------------------------------------------------------------------------------------
# Alerts and reminders go out by email. The console backend (the default) prints them; set
# EMAIL_URL (e.g. smtp+tls://user:password@mail.example.com:587) to send them.
# django-environ's documented idiom: EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, ... from the URL.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="crm@localhost")
# The address people reach the app at, for links in emails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# The hashed manifest needs `collectstatic`; development and tests serve files from the finders.
_STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if _STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not _STATIC_MANIFEST

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first, so that an anonymous request is answered 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.authentication.StrictTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every endpoint names its area of the site (crm.areas), and only roles that use it get in.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "crm.api.permissions.UsesArea",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "crm.api.pagination.StableOrderingFilter",
    ],
    # The browsable HTML API only in development: its pages use inline styles (CSP), and
    # integrators have /api/docs/.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_PARSER_CLASSES": [
        "crm.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "crm.api.schema.CrmAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "crm.api.throttling.FailOpenAnonRateThrottle",
        "crm.api.throttling.FailOpenUserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
    "EXCEPTION_HANDLER": "crm.api.exceptions.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Field-sales CRM API",
    "DESCRIPTION": (
        "Customers, deals, activities, tasks, routes and goals, scoped by the caller's role."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs are for people who may use the API (their views' area).
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.IsAuthenticated",
        "crm.api.permissions.UsesArea",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "stage" or "status"; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "DealStageEnum": "crm.models.DealStage",
        "OpenDealStageEnum": "crm.models.DealStage.open_choices",
        "CustomerStatusEnum": "crm.models.CustomerStatus",
        "ActivityStatusEnum": "crm.models.ActivityStatus",
        "TaskStatusEnum": "crm.models.TaskStatus",
        "JobRunStatusEnum": "crm.jobs.models.JobRunStatus",
        "GoalStatusEnum": "goals.models.GoalStatus",
        "ActivityKindEnum": "crm.models.ActivityKind",
        "ActivityOutcomeEnum": "crm.models.ActivityOutcome",
        "DealOutcomeEnum": "crm.models.DealOutcome",
        "AnalysisKindEnum": "supervision.models.AnalysisKind",
        "SessionStatusEnum": "supervision.models.SessionStatus",
        "ReasonCodeEnum": "supervision.models.ReasonCode",
    },
    # Swagger UI assets come from drf-spectacular-sidecar: served by the app, no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Logging ---------------------------------------------------------------------------------
# Every line carries the id of the request it was written for (crm.logs; "-" outside a request).
# "json" (the default with DEBUG off): one JSON object a line, for a log collector; "plain": a
# line for people (the default with DEBUG on).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured('LOG_FORMAT is "json" or "plain".')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "crm.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "crm.logs.CrmJsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Error reports ------------------------------------------------------------------------------
# SENTRY_DSN set: errors of the web processes, the worker and beat go to Sentry (sentry-sdk's
# Django and Celery integrations), tagged with the request id; no personal data is sent.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        # The share of requests and tasks traced for performance (0: errors only).
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
    )
