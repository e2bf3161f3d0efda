"""Tierwise settings, read from the environment (twelve-factor).

With nothing set, Tierwise runs on SQLite with Celery tasks executed eagerly in-process, so the app can be
tried on a bare machine. Set ``DATABASE_URL`` and ``REDIS_URL`` (or ``CELERY_BROKER_URL``) to run on
PostgreSQL with real Celery workers. See the configuration table in README.md.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # Development (DEBUG) and the zero-setup SQLite default may use a fixed key; a real deployment may not.
    if not DEBUG and os.environ.get("DATABASE_URL"):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see README, Configuration).")
    SECRET_KEY = "django-insecure-tierwise-development-only-key-not-for-production"  # noqa: S105 (dev only)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "simple_history",
    "axes",
    "crm",
    "profitability",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "crm.middleware.SessionIdleTimeoutMiddleware",
    "crm.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "crm.context_processors.tierwise",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
SILENCED_SYSTEM_CHECKS: list[str] = []
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("DB_JIT", False):
        # PostgreSQL's JIT adds ~75 ms of compile time to the queue and list queries for no gain here.
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DB_POOL", True):
        # Django's native psycopg 3 pool; persistent connections (CONN_MAX_AGE) must stay 0 with it.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 1),
            "max_size": env_int("DB_POOL_MAX", 10),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", BASE_DIR / "db.sqlite3"),
        }
    }
    # The embedded default only: SQLite can't make a unique constraint treat NULLs as equal; PostgreSQL,
    # which every real deployment uses, does. Without this every migrate warns about it.
    SILENCED_SYSTEM_CHECKS.append("models.W047")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# No broker configured: run tasks in-process so the app works on a bare machine.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Per-account recomputes have a queue of their own, so a dedicated worker (``celery -A crm worker -Q recompute``)
# keeps snapshots fresh however much follow-up work (opportunities, loyalty, imports, nightly jobs) is queued.
# A worker started without -Q consumes both queues.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("recompute"))
CELERY_TASK_ROUTES = {"profitability.tasks.recompute_account": {"queue": "recompute"}}
# Keep a worker's database connection for this many tasks instead of reconnecting around every task (Celery's
# Django fixup default): a reconnect is most of a one-account recompute's latency. crm/celery.py drops a
# connection that broke in between.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 100)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
# Unacked messages come back after this long; it must exceed the longest task and any countdown.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 60 * 60)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery autodiscovers only each app's tasks.py; these task modules live elsewhere.
CELERY_IMPORTS = ["profitability.tasks_analytics", "crm.imports.tasks", "crm.dedupe.tasks"]
CELERY_BEAT_SCHEDULE = {
    # The queue is only a hint: this sweep re-enqueues any snapshot behind its account's history.
    "sweep-stale-snapshots": {"task": "profitability.tasks.sweep_stale_snapshots", "schedule": 300.0},
    "nightly-clv-fit": {"task": "profitability.tasks.fit_clv_models", "schedule": crontab(hour=2, minute=0)},
    "nightly-book-recompute": {"task": "profitability.tasks.recompute_book", "schedule": crontab(hour=2, minute=30)},
    # Analytics after the book recompute (both wait while a book recompute still runs): retrain lead scoring on
    # the fresh snapshots, then refresh the precomputed KPI, funnel, channel and what-if aggregates.
    "nightly-lead-scoring-retrain": {
        "task": "profitability.tasks_analytics.retrain_lead_scoring", "schedule": crontab(hour=3, minute=0)},
    "campaigns-sweep": {"task": "campaigns.tasks.sweep", "schedule": 300.0},
    # Import jobs whose queue message was lost (a broker restart) are queued again; a run is idempotent.
    "imports-sweep": {"task": "crm.imports.tasks.sweep_import_jobs", "schedule": 300.0},
    "nightly-book-patterns": {"task": "campaigns.tasks.refresh_book_patterns", "schedule": crontab(hour=3, minute=15)},
    "nightly-loyalty": {"task": "campaigns.tasks.loyalty_daily", "schedule": crontab(hour=3, minute=45)},
    "nightly-analytics-refresh": {
        "task": "profitability.tasks_analytics.refresh_analytics", "schedule": crontab(hour=3, minute=15)},
    # Duplicate accounts: the whole book nightly, accounts whose name/domain/tax id/phone changed every 15 minutes.
    "nightly-duplicate-scan": {"task": "crm.dedupe.tasks.find_duplicates", "schedule": crontab(hour=1, minute=30)},
    "duplicate-scan-changed": {
        "task": "crm.dedupe.tasks.find_duplicates", "schedule": 900.0, "kwargs": {"full": False}},
}

# --- Auth and sessions ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses logins for a username (from any address) or an address after repeated failures.
AUTHENTICATION_BACKENDS = ["crm.auth_backends.LoginLockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_HOURS", 1)  # hours; then the counter starts again
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either alone reaching the limit locks
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # failures survive restarts and span web workers
# Behind a proxy the client address comes from X-Forwarded-For (only then: it can be forged otherwise).
AXES_IPWARE_PROXY_COUNT = 1 if env_bool("BEHIND_TLS_PROXY", False) else None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if env_bool("BEHIND_TLS_PROXY", False) else ["REMOTE_ADDR"]
)
# Admins confirm their password again before configuration changes and merges once this many seconds have
# passed since they last did (or logged in).
REAUTH_WINDOW = env_int("REAUTH_WINDOW", 15 * 60)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Absolute session lifetime, plus an idle timeout enforced by crm.middleware.SessionIdleTimeoutMiddleware.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 60 * 60)
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Security (production mode passes `manage.py check --deploy`) ---------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# Opting out of the preload list is a deliberate operator choice; don't warn about it then.
if not (SECURE_HSTS_PRELOAD or DEBUG):
    SILENCED_SYSTEM_CHECKS.append("security.W021")
if env_bool("BEHIND_TLS_PROXY", False):
    # Trust X-Forwarded-Proto only when a TLS-terminating proxy in front of us sets it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# --- Django REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Tokens for integrations (one per user, issued by an admin); the session for the browser (CSRF-checked).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_ANON_RATE", "30/minute"),
        "user": os.environ.get("API_USER_RATE", "2000/hour"),
    },
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,  # money stays exact in JSON: "1234.50", never a float
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tierwise API",
    "DESCRIPTION": "Accounts, interactions, cases, profitability, tiers, opportunities and loyalty. "
    "Service staff receive no margin, cost or CLV fields.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from drf-spectacular-sidecar's vendored files: no CDN, and the CSP stays strict.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status"/"kind"/"channel" choice: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "AccountStatusEnum": "crm.models.Account.Status",
        "CaseStatusEnum": "crm.models.ServiceCase.Status",
        "InteractionKindEnum": "crm.models.InteractionKind",
        "InteractionChannelEnum": "crm.models.InteractionChannel",
        "ProgramStatusEnum": "campaigns.models.LoyaltyProgram.Status",
        "OpportunityStatusEnum": "campaigns.models.Opportunity.Status",
        "RewardKindEnum": "campaigns.models.Reward.Kind",
        "LedgerEntryKindEnum": "campaigns.models.LedgerEntry.Kind",
    },
}

# --- Uploaded files and imports ------------------------------------------------------------------------
# Import uploads and reject files live here. With workers on other machines, MEDIA_ROOT must be a shared
# volume (NFS, EFS, ...) mounted at the same path on the web and worker machines.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"  # never served publicly: reject files are downloaded through a role-checked view
TIERWISE_IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 200 * 1024 * 1024)
TIERWISE_IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 2_000_000)
# Uploads above this size are spooled to a temporary file rather than held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # request bodies other than files (the bulk API included)

# --- Internationalisation and money --------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# One currency for the whole book (ISO 4217 code); all money is Decimal with two places.
TIERWISE_CURRENCY = os.environ.get("TIERWISE_CURRENCY", "EUR")

# --- Static files --------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG and env_bool("STATIC_MANIFEST", True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
if CELERY_TASK_ALWAYS_EAGER:
    # In-process tasks (no broker): one "Task ... succeeded" line per recompute would bury the server's log.
    LOGGING["loggers"] = {"celery.app.trace": {"level": "WARNING"}}
