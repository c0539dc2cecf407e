"""Settings, read from the environment; with nothing set: SQLite, local memory, eager Celery."""

from __future__ import annotations

import os
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from core.redis_clients import is_cluster
from portal.secret_key import local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

PRODUCTION = env.str("DJANGO_ENV", default="development") == "production"
DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. In production (DJANGO_ENV=production) set it to a "
            'long random value, e.g. python -c "import secrets; print(secrets.token_urlsafe(50))".'
        )
    # A key written in this file would be everyone's key: anyone could sign staff tokens.
    _key_file = Path(env.str("DJANGO_SECRET_KEY_FILE", default=str(BASE_DIR / ".secret_key")))
    SECRET_KEY = local_secret_key(_key_file)
    warnings.warn(
        f"DJANGO_SECRET_KEY is not set: using the key generated for this checkout in {_key_file}. "
        "Never do this in production.",
        stacklevel=1,
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "core",
    "lifecycle",
    "teams",
    "keys",
    "apis",
    "apis.usage",
    "apis.ai",
    "portal",
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
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.problems.UnstorableInputMiddleware",
    "core.outages.OutageMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.current_team.team_context",
            ],
        },
    },
]

# Databases -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///db.sqlite3")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if _db["NAME"] != ":memory:" and not Path(_db["NAME"]).is_absolute():
        _db["NAME"] = str(BASE_DIR / _db["NAME"])
    _db.setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
else:
    # Under ASGI every control-plane request runs on a thread of its own: a persistent
    # connection per thread would leak, so connections come from one pool per process.
    _db["CONN_MAX_AGE"] = 0
    _db["CONN_HEALTH_CHECKS"] = True
    # A database host that went away must cost a request seconds, not the TCP timeout (503):
    # the same bound for a new connection and for waiting on the pool.
    _connect_timeout = env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    _db.setdefault("OPTIONS", {}).setdefault("connect_timeout", _connect_timeout)
    _db["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_SIZE", default=20),
        "timeout": _connect_timeout,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache, counters, broker -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_CLUSTER = is_cluster(REDIS_URL)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cluster_cache.RedisClusterCache"
            if REDIS_CLUSTER
            else "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "pc",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Local memory is per process: right for the one-process embedded default only.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
RATELIMIT_USE_CACHE = "default"

# Celery's Redis transport speaks to one Redis, not a cluster: with a cluster, the broker is a
# Redis (or RabbitMQ) of its own.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="" if REDIS_CLUSTER else REDIS_URL)
if REDIS_CLUSTER and not CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        "REDIS_URL names a Redis Cluster, which cannot be Celery's broker: "
        "set CELERY_BROKER_URL to a plain Redis (redis://…) or RabbitMQ (amqp://…)."
    )
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {
    # Events wait in the Redis stream until ingested: the shorter the wait, the fewer a crash
    # of a Redis without an append-only file can lose.
    "usage-ingest": {
        "task": "apis.usage_ingest",
        "schedule": env.float("PORTCULLIS_USAGE_INGEST_SECONDS", default=5.0),
    },
    "usage-ingest-and-rollup": {"task": "apis.usage_ingest_and_rollup", "schedule": 60.0},
    "usage-prune": {"task": "apis.usage_prune", "schedule": 3600.0},
    "targets-probe": {
        "task": "apis.targets_probe",
        "schedule": env.float("PORTCULLIS_PROBE_SECONDS", default=10.0),
    },
    "refresh-tokens-forget-expired": {
        "task": "portal.refresh_tokens_forget_expired",
        "schedule": 3600.0,
    },
    # What upstream MCP servers offer, as admin and the portal show it and tools/list answers it.
    "mcp-snapshots-refresh": {
        "task": "apis.mcp_snapshots_refresh",
        "schedule": env.float("PORTCULLIS_MCP_SNAPSHOT_SECONDS", default=900.0),
    },
    "mcp-audit-ingest": {"task": "apis.mcp_audit_ingest", "schedule": 5.0},
}

# Auth ------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "keys.secrets.ClientSecretHasher",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# REST API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.LimitOffsetPages",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.problems.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # portal.auth_tokens: each refresh token refreshes once; a password change ends them all.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "CHECK_REVOKE_TOKEN": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Portcullis management API",
    "DESCRIPTION": "Manage APIs, plans, applications, subscriptions and usage.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["core.schema.management_endpoints_only"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.staff_only_fields_optional",
        "core.schema.problem_responses",
    ],
    # Request bodies get components of their own (`ApiRequest`), without the read-only fields.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LifecycleStateEnum": "lifecycle.states.State",
        "TeamRoleEnum": "teams.models.Role",
        "InvitedRoleEnum": "teams.models.INVITED_ROLES",
    },
}

# openapi-spec-validator picks jsonschema-rs when it is installed (schemathesis brings it): the
# import's messages would then depend on what else is installed. They come from jsonschema.
os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")

# Portcullis ------------------------------------------------------------------------------------
PORTCULLIS = {
    "USAGE": {
        "BATCH_SIZE": env.int("PORTCULLIS_USAGE_BATCH_SIZE", default=500),
        "MAX_BATCHES": env.int("PORTCULLIS_USAGE_MAX_BATCHES", default=200),
        "ROLLUP_BATCH_SIZE": env.int("PORTCULLIS_USAGE_ROLLUP_BATCH_SIZE", default=5000),
        "CLAIM_IDLE_SECONDS": env.float("PORTCULLIS_USAGE_CLAIM_IDLE_SECONDS", default=60),
        "RETENTION_DAYS": env.int("PORTCULLIS_USAGE_RETENTION_DAYS", default=30),
    },
    "TEAMS": {
        "INVITATION_DAYS": env.int("PORTCULLIS_INVITATION_DAYS", default=7),
    },
    "KEYS": {
        "KEK": env.str("PORTCULLIS_KEK", default=""),
        "ISSUER": env.str("PORTCULLIS_ISSUER", default="http://127.0.0.1:8000"),
        "MAX_APPLICATIONS_PER_OWNER": env.int("PORTCULLIS_MAX_APPLICATIONS", default=50),
    },
    "PORTAL": {
        "SIGNUP_RATE": env.str("PORTCULLIS_SIGNUP_RATE", default="5/h"),
        "LOGIN_RATE": env.str("PORTCULLIS_LOGIN_RATE", default="10/m"),
        "LOGIN_ACCOUNT_RATE": env.str("PORTCULLIS_LOGIN_ACCOUNT_RATE", default="10/15m"),
        "LOGIN_DEVICE_RATE": env.str("PORTCULLIS_LOGIN_DEVICE_RATE", default="10/15m"),
        "METRICS_TOKEN": env.str("PORTCULLIS_METRICS_TOKEN", default=""),
    },
    "MCP": {
        "ALLOWED_ORIGINS": env.list("PORTCULLIS_MCP_ALLOWED_ORIGINS", default=[]),
    },
    "GATEWAY": {
        "FAIL_OPEN": env.bool("PORTCULLIS_GATEWAY_FAIL_OPEN", default=False),
        "TRUSTED_PROXIES": env.list("PORTCULLIS_TRUSTED_PROXIES", default=[]),
        "BODY_LIMIT": env.int("PORTCULLIS_GATEWAY_BODY_LIMIT", default=10 * 1024 * 1024),
        "MAX_IN_FLIGHT": env.int("PORTCULLIS_GATEWAY_MAX_IN_FLIGHT", default=4096),
        "STREAM_EVENT_LIMIT": env.int(
            "PORTCULLIS_GATEWAY_STREAM_EVENT_LIMIT", default=16 * 1024 * 1024
        ),
        "ANSWER_LIMIT": env.int("PORTCULLIS_GATEWAY_ANSWER_LIMIT", default=128 * 1024 * 1024),
        "KEEPALIVE_SECONDS": env.float("PORTCULLIS_GATEWAY_KEEPALIVE_SECONDS", default=4.0),
        # The portal's own cookies: never sent upstream, never set by an upstream's answer.
        "PORTAL_COOKIES": ["sessionid", "csrftoken", "messages", "pc_device"],
    },
}
if PRODUCTION and not PORTCULLIS["KEYS"]["KEK"]:
    raise ImproperlyConfigured("PORTCULLIS_KEK is not set; production keeps secrets under it.")

# E-mail ----------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portcullis@localhost")

# Static files, i18n ----------------------------------------------------------------------------
STATIC_URL = "static/"
# Deployments collect static files here; in development whitenoise serves them from the
# finders, and a STATIC_ROOT that does not exist would only draw a warning from it.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # The manifest exists only after collectstatic, which deployments run and `make run` does
    # not; without it every {% static %} tag (admin, API docs) would fail.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Security --------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script anywhere: pages load their behaviour from static files (django-csp 4).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
