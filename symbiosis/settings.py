"""Settings for Symbiosis Exchange, configured only by environment variables.

Every variable is documented in `.env.example`. Secrets have no default: a missing
`DJANGO_SECRET_KEY` stops the start. `make run` generates a throwaway key for the demo.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# Where the embedded demo keeps its SQLite database, static files and beat schedule.
VAR_DIR = Path(env("SYMBIOSIS_VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

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
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "harbors",
    "listings",
    "matching",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "symbiosis.urls"
WSGI_APPLICATION = "symbiosis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "matching.context_processors.facilitation",
            ],
        },
    },
]

# With no DATABASE_URL the embedded demo runs on SQLite under var/; tests and production use
# PostgreSQL (psycopg 3).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'symbiosis.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # JIT adds tens of milliseconds to radius lookups and buys nothing here (DESIGN.md).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins are rate-limited by django-axes (DESIGN.md, "Login attempts are rate-limited"):
# after AXES_FAILURE_LIMIT failures for one username from one IP address, that pair is locked
# out for the cool-off time. Attempts live in the database (rolled back with each test;
# `axes.utils.reset()` clears them). Behind a proxy, REMOTE_ADDR must be the client's address.
AUTHENTICATION_BACKENDS = [
    "listings.backends.LoginRateLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "listings.views.login_locked_out"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("nl", _("Dutch")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Brussels"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Django 6.1 MAILERS; the demo prints email on the console.
MAILERS = {
    "default": {
        "BACKEND": env(
            "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
        ),
    },
}
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="facilitators@symbiosis.invalid")

# Security. Behind TLS in production set DJANGO_SECURE=true; the embedded demo serves plain HTTP.
SECURE = env.bool("DJANGO_SECURE", default=False)
SECURE_SSL_REDIRECT = SECURE
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = 31_536_000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "https://*.tile.openstreetmap.org"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# Cache: Redis when DJANGO_CACHE_URL is set (the API throttle counters are atomic INCRs there);
# a per-process memory cache otherwise (the embedded demo and the tests).
CACHE_URL = env("DJANGO_CACHE_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    ),
}

# The partner API (/api/v1/, symbiosis/api.py). A bearer token first, so that an anonymous
# caller gets 401 with WWW-Authenticate; the session second, for the portal's own JavaScript
# (CSRF enforced). Every error has one shape: {"code", "detail", "errors"}.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "symbiosis.api.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "symbiosis.api.HasScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["symbiosis.api.ScopeThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "read": env("DJANGO_API_RATE_READ", default="600/min"),
        "write": env("DJANGO_API_RATE_WRITE", default="120/min"),
        "facilitate": env("DJANGO_API_RATE_FACILITATE", default="300/min"),
        "anon": env("DJANGO_API_RATE_ANON", default="60/min"),
    },
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "symbiosis.api.KeysetPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["symbiosis.api.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "symbiosis.api_docs.ApiSchema",
    "EXCEPTION_HANDLER": "symbiosis.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Symbiosis Exchange partner API",
    "DESCRIPTION": (
        "Anonymised listings, reference data, an organisation's own offers, demands, sites and "
        "matches, and the facilitators' queue. Authenticate with `Authorization: Bearer <token>` "
        "(tokens are created at /account/api-tokens/). Every error has the shape "
        '`{"code": "...", "detail": "...", "errors": {...}}`; lists use cursor pagination.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ListingStatusEnum": "listings.models.ListingStatus",
        "MatchResponseEnum": "matching.models.Response",
        "MatchAnswerEnum": ["interested", "not_interested"],
        "ShipmentWasteStatusEnum": ["product", "by_product", "end_of_waste", "waste", "unknown"],
        "ImpactStatusEnum": ["implemented", "proposed"],
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": False, "displayOperationId": False},
}

# Celery. With no broker configured (the embedded demo) tasks run in-process; with
# CELERY_BROKER_URL they go through Redis (or RabbitMQ) to real workers. Settings measured
# with kill -9 on a Redis broker (DESIGN.md, "Pipeline and reliability").
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
    # The lock around that restore (milliseconds of work) expires after 30 s, not kombu's
    # 5 minutes: a worker killed while it holds it stops every worker's restoring till then.
    "unacked_mutex_expire": 30,
}
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="symbiosis")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # https://crontab.guru/#*_*_*_*_* : every minute, re-queue listings still flagged.
    "matching-sweep-flagged-listings": {
        "task": "matching.listings_sweep",
        "schedule": crontab(minute="*"),
    },
    # https://crontab.guru/#*/5_*_*_*_* : every 5 minutes, re-queue the chunks of a full
    # rematch that nobody finished long after they were queued (MATCHING_RUN_REQUEUE_AFTER_SECONDS).
    "matching-sweep-stalled-runs": {
        "task": "matching.runs_sweep",
        "schedule": crontab(minute="*/5"),
    },
    # https://crontab.guru/#0_8_*_*_* : every day at 08:00, remind companies that left an
    # introduction unanswered for MATCHING_REMINDER_DAYS days (once per side, ever).
    "matching-remind-unanswered-introductions": {
        "task": "matching.introductions_remind",
        "schedule": crontab(minute="0", hour="8"),
    },
    # https://crontab.guru/#0_7_*_*_1 : Mondays at 07:00, each organisation's new matches.
    "matching-weekly-digest": {
        "task": "matching.digests_send",
        "schedule": crontab(minute="0", hour="7", day_of_week="1"),
    },
}

# Matching engine knobs.
MATCHING_TOP_K = env.int("MATCHING_TOP_K", default=10)
MATCHING_MIN_SCORE = env.float("MATCHING_MIN_SCORE", default=0.2)
MATCHING_SWEEP_AFTER_SECONDS = env.int("MATCHING_SWEEP_AFTER_SECONDS", default=60)
# A full rematch's chunk still not done this long after its task was queued is queued again:
# after the broker's own redelivery of a killed worker's chunk (the visibility timeout) had its
# chance, for the messages the broker lost (a Redis restarted without persistence).
MATCHING_RUN_REQUEUE_AFTER_SECONDS = env.int(
    "MATCHING_RUN_REQUEUE_AFTER_SECONDS",
    default=CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] + 600,
)
# Worker processes a full rematch is split for (two chunks each), and how often a worker's
# cached matching index checks every published row for deletions (matching/candidates.py).
MATCHING_RUN_WORKERS = env.int("MATCHING_RUN_WORKERS", default=2)
MATCHING_INDEX_FULL_CHECK_SECONDS = env.float("MATCHING_INDEX_FULL_CHECK_SECONDS", default=60.0)
# A Celery worker's main process builds the demand index before its pool forks, for the
# children to share; it imports the engine either way (matching.services.matching_worker_prepare).
MATCHING_WORKER_PREPARE = env.bool("MATCHING_WORKER_PREPARE", default=True)
# An introduced match unanswered this long is overdue in the queue and its company is reminded.
MATCHING_REMINDER_DAYS = env.int("MATCHING_REMINDER_DAYS", default=7)
# Background tiles of the facilitator map; empty: outlines only (the bundled GeoJSON).
MATCHING_MAP_TILES_URL = env(
    "MATCHING_MAP_TILES_URL", default="https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
