"""The one settings module. Every value comes from the environment, with embedded defaults.

Embedded default (no variables set): SQLite file under var/, local-memory cache, Celery on a
filesystem broker under var/ (no broker server). Production: DATABASE_URL (PostgreSQL),
REDIS_URL (Celery broker and cache), DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.clock import retention_at

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GOVERNANCE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no.")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from exc


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random value, e.g. "
            "DJANGO_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))'). "
            "Only DJANGO_DEBUG=1 runs without one (with an insecure development key)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"
elif len(SECRET_KEY) < 32 and not DEBUG:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is shorter than 32 characters; use a longer one.")

# Keys API keys and SCIM tokens are HMAC-hashed with. Separate from SECRET_KEY so that rotating
# the session-signing key does not invalidate every issued credential.
TOKEN_HASH_KEY = os.environ.get("GOVERNANCE_TOKEN_HASH_KEY", "") or f"token-hash:{SECRET_KEY}"

# Key that encrypts secrets we must be able to read back (SAML SP private keys, OIDC client
# secrets). Separate from SECRET_KEY for the same reason; losing it means re-entering them.
FIELD_ENCRYPTION_KEY = os.environ.get("GOVERNANCE_ENCRYPTION_KEY", "") or f"fields:{SECRET_KEY}"
# Earlier keys, comma-separated: still decrypt, never encrypt. Rotating: put the old key here,
# a new one in GOVERNANCE_ENCRYPTION_KEY, run `manage.py credentials_rotate_keys`, then drop it.
# (A key that was derived from DJANGO_SECRET_KEY is written `fields:<that secret key>`.)
FIELD_ENCRYPTION_OLD_KEYS = [
    k.strip() for k in os.environ.get("GOVERNANCE_ENCRYPTION_OLD_KEYS", "").split(",") if k.strip()
]

# Password sign-in throttling: failures per e-mail and per client IP within the window.
SIGNIN_MAX_FAILURES_PER_EMAIL = env_int("GOVERNANCE_SIGNIN_MAX_FAILURES_PER_EMAIL", 10)
SIGNIN_MAX_FAILURES_PER_IP = env_int("GOVERNANCE_SIGNIN_MAX_FAILURES_PER_IP", 100)
SIGNIN_FAILURE_WINDOW_SECONDS = env_int("GOVERNANCE_SIGNIN_FAILURE_WINDOW", 900)
# OIDC issuers must be https://; tests run a real provider on http://127.0.0.1.
SSO_ALLOW_HTTP_ISSUERS = env_bool("GOVERNANCE_SSO_ALLOW_HTTP_ISSUERS", False)
# OIDC endpoints this server fetches must resolve to public addresses (no SSRF into the private
# network) unless this is set, for an IdP that lives on your own network.
SSO_ALLOW_PRIVATE_ISSUERS = env_bool("GOVERNANCE_SSO_ALLOW_PRIVATE_ISSUERS", False)
# Audit streams (siem) connect only to public addresses unless this is set, for a SIEM
# collector on your own network (the common case for syslog).
SIEM_ALLOW_PRIVATE_DESTINATIONS = env_bool("GOVERNANCE_SIEM_ALLOW_PRIVATE_DESTINATIONS", False)
# Retention enforcement: rows per batch (one short transaction each), the pause between
# batches (writers get the table in between), and the daily time it runs (UTC, HH:MM).
RETENTION_PAUSE_SECONDS = float(os.environ.get("GOVERNANCE_RETENTION_PAUSE_SECONDS", "0.02"))
RETENTION_AT = "%02d:%02d" % retention_at()  # noqa: UP031
# Okta OAuth connections are refreshed at least this often while connected, so that Okta does
# not expire an idle grant.
CREDENTIALS_KEEPALIVE_HOURS = env_int("GOVERNANCE_CREDENTIALS_KEEPALIVE_HOURS", 24)
# MCP servers behind the gateway: Streamable HTTP URLs must be https:// on public addresses
# unless these admit the deployment's own network (or plain http, the tests' loopback).
MCP_ALLOW_PRIVATE_UPSTREAMS = env_bool("GOVERNANCE_MCP_ALLOW_PRIVATE_UPSTREAMS", False)
MCP_ALLOW_HTTP_UPSTREAMS = env_bool("GOVERNANCE_MCP_ALLOW_HTTP_UPSTREAMS", False)
# stdio servers are commands on the gateway's host: only the operator names them, as JSON
# {"name": {"command": "...", "args": [...], "env": {...}}}; an admin picks one by name.
MCP_STDIO_SERVERS = json.loads(os.environ.get("GOVERNANCE_MCP_STDIO_SERVERS", "") or "{}")
# The gateway's own public URL (its protected resource metadata names it) and the Host headers
# it answers (the SDK's DNS rebinding protection; "host:*" admits any port).
# Where the gateway spools its traces until the database has them (survives an outage).
MCP_TRACE_SPOOL_DIR = os.environ.get("GOVERNANCE_MCP_TRACE_SPOOL_DIR", "") or str(
    VAR_DIR / "mcp-spool"
)
MCP_GATEWAY_URL = os.environ.get("GOVERNANCE_MCP_GATEWAY_URL", "") or "http://127.0.0.1:8100"
# Seconds the gateway may answer from its last database read while the database is down
# (gateway.outage); 0 refuses every call then.
MCP_OUTAGE_GRACE = float(os.environ.get("GOVERNANCE_MCP_OUTAGE_GRACE", "") or 120)
# The MCP SDK's OpenTelemetry span per message (for an installed OTel exporter); the gateway's
# own traces do not need it.
MCP_OTEL_SPANS = env_bool("GOVERNANCE_MCP_OTEL_SPANS", False)
MCP_GATEWAY_HOSTS = [
    h.strip()
    for h in os.environ.get("GOVERNANCE_MCP_GATEWAY_HOSTS", "127.0.0.1:*,localhost:*").split(",")
    if h.strip()
]
# Events per delivery (one syslog connection, one webhook POST, one HEC request).
SIEM_BATCH_EVENTS = int(os.environ.get("GOVERNANCE_SIEM_BATCH_EVENTS", "500"))
# Public base URL (https://governance.example.com) for SAML entity IDs and ACS URLs; empty = the
# request's own scheme and host (as validated by ALLOWED_HOSTS).
PUBLIC_URL = os.environ.get("GOVERNANCE_PUBLIC_URL", "").rstrip("/")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    # Bottom layer first; the README's Architecture section draws the layers.
    "core",
    "audit",
    "identity",
    "orgs",
    "mapping",
    "sso",
    "scim",
    "auditlog",
    "siem",
    "retention",
    "credentials",
    "workspace",
    "gateway",  # after workspace: it registers its traces in workspace's retention categories
    "governance",
]
# django-guardian stores shares of agents and workflows (workspace.models); decisions are made
# by workspace.decisions, not by its backend. No "anonymous user" row: people are e-mails here.
ANONYMOUS_USER_NAME = None
SILENCED_SYSTEM_CHECKS = ["guardian.W001"]  # its backend is not used: see above

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.middleware.RequestContextMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "core.middleware.UnstorableTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sso.middleware.SignInPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

# Content-Security-Policy on every response (django-csp). Scripts only from our own origin (no
# inline script or handlers: governance/static/governance/app.js binds them); styles may be
# inline (style attributes in the templates); nothing may frame the dashboard. No form-action:
# the sign-in forms end in redirects to the organization's IdP, which it would block.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"

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
                "orgs.context_processors.workspace",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and not env_bool(
        "GOVERNANCE_DB_JIT", False
    ):
        # PostgreSQL's JIT compiles any statement costed over jit_above_cost, and statements
        # over month-partitioned tables are costed by their partitions, not their rows: a
        # retention dry run's counts took 1.3 s each, nearly all of it compiling, and 4 ms
        # without (measured 2026-11-30, PostgreSQL 15, 36 monthly partitions, a handful of
        # rows; planning 80 ms either way). The workload is short statements; set
        # GOVERNANCE_DB_JIT=1 to leave the server's own setting alone (behind a PgBouncer
        # that refuses the `options` startup parameter, say).
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = (options.get("options", "") + " -c jit=off").strip()
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "governance.sqlite3",
            # WAL lets the dashboard read while the embedded worker writes.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# User.email is unique case-insensitively through a functional constraint (Lower(email)),
# which this check does not see.
SILENCED_SYSTEM_CHECKS += ["auth.W004"]
# (SQLite has one writer at a time: smaller batches keep each of its waits short.)
RETENTION_BATCH_ROWS = int(
    os.environ.get(
        "GOVERNANCE_RETENTION_BATCH_ROWS",
        "500" if DATABASES["default"]["ENGINE"].endswith("sqlite3") else "2000",
    )
)

# --- Cache, broker ------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "") or REDIS_URL or "filesystem://"
CELERY_BROKER_IS_EMBEDDED = CELERY_BROKER_URL == "filesystem://"
if CELERY_BROKER_IS_EMBEDDED:
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        # kombu keeps its broadcast state in ./control unless told otherwise
        "control_folder": str(VAR_DIR / "celery-control"),
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"

# --- Auth, sessions, cookies ---------------------------------------------------------------
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = ["sso.backends.EmailBackend"]
LOGIN_URL = "sso:login"
LOGIN_REDIRECT_URL = "governance:home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("GOVERNANCE_SESSION_SECONDS", 12 * 3600)
SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies in front of us append to X-Forwarded-For (0: trust REMOTE_ADDR only).
GOVERNANCE_TRUSTED_PROXY_COUNT = env_int("GOVERNANCE_TRUSTED_PROXY_COUNT", 0)

# Refusals made before a door's own views run (body size, NUL characters, Django's 403/404/500
# handlers) answer machine clients in that door's error shape (core.doors).
# Legal holds stop deletions in apps below the retention app (core.holds asks this).
GOVERNANCE_HOLD_CHECK = "retention.guards.holds_covering"
# Called with (membership, actor) inside every deactivation's transaction, whatever the door.
GOVERNANCE_ON_MEMBER_DEACTIVATED = [
    "credentials.tokens.member_deactivated",
    "gateway.tokens.member_deactivated",
]

GOVERNANCE_ERROR_SHAPES = {
    "/scim/": "scim.responses.door_error",
    "/api/": "core.doors.json_error",
}

# Request bodies over this are refused (also bounds SCIM and API payloads).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("GOVERNANCE_MAX_BODY_BYTES", 1024 * 1024)

# --- i18n, static --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"  # collectstatic target in production
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "governance" / "static"]
# Serve straight from the app folders: no collectstatic step for the embedded run.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orgs.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "governance API",
    "DESCRIPTION": "REST API of the governance control plane. Authenticate with an API key: "
    "`Authorization: Bearer gov_...`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes the API, no organization's data: anyone may read it (drf-spectacular's
    # default SERVE_PERMISSIONS, AllowAny), and a request may carry either kind of key.
    "SERVE_AUTHENTICATION": [
        "orgs.api.auth.ServiceKeyAuthentication",
        "orgs.api.auth.ApiKeyAuthentication",
    ],
}

# --- SCIM ----------------------------------------------------------------------------------
# django-scim2 reads this at import; the project owns auth, adapters, filters and paging, so only
# its base view and schema documents are used.
SCIM_SERVICE_PROVIDER = {
    "NETLOC": os.environ.get("GOVERNANCE_PUBLIC_HOST", "localhost"),
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A per-organization SCIM token created in the dashboard: "
            "Authorization: Bearer scim_...",
            "primary": True,
        }
    ],
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
}
SCIM_MAX_RESULTS = env_int("GOVERNANCE_SCIM_MAX_RESULTS", 200)
# Domain verification: the DNS resolver to ask ("" = the system's; "host:port" otherwise).
GOVERNANCE_DNS_RESOLVER = os.environ.get("GOVERNANCE_DNS_RESOLVER", "")
# Audit seals (audit.ledger): the Ed25519 signing key (base64 of its 32-byte seed; derived from
# the secret key when unset) and earlier keys' public halves, still trusted after a rotation.
GOVERNANCE_AUDIT_SIGNING_KEY = os.environ.get("GOVERNANCE_AUDIT_SIGNING_KEY", "")
GOVERNANCE_AUDIT_TRUSTED_KEYS = os.environ.get("GOVERNANCE_AUDIT_TRUSTED_KEYS", "")
# Server-side prepared statements for the hand-written hot reads (core.rows): off only behind a
# PgBouncer in transaction mode older than 1.21.
GOVERNANCE_DB_PREPARE = env_bool("GOVERNANCE_DB_PREPARE", True)
GOVERNANCE_DNS_TIMEOUT_SECONDS = env_int("GOVERNANCE_DNS_TIMEOUT", 5)
# How long an invitation link stays valid.
GOVERNANCE_INVITATION_DAYS = env_int("GOVERNANCE_INVITATION_DAYS", 7)
# Requests per token per minute before 429 + Retry-After.
SCIM_RATE_LIMIT_PER_MINUTE = env_int("GOVERNANCE_SCIM_RATE_LIMIT", 1200)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_in_one_line": {"()": "core.logs.RefusalsInOneLine"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["refusals_in_one_line"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("GOVERNANCE_LOG_LEVEL", "INFO")},
    # pysaml2's schema library announces every schema it reuses at INFO.
    "loggers": {"xmlschema": {"level": "WARNING"}},
}
