"""Settings for the НЕИСПУО helpdesk: one file, driven by the environment.

The embedded default (no variables set) needs no server at all: SQLite, the
in-process channel layer, a local-memory cache and celery over kombu's
filesystem transport. Setting DATABASE_URL and REDIS_URL moves the same code to
PostgreSQL and Redis. docs/configuration.md lists every variable.
"""

import datetime
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from helpdesk.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_rate,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state (SQLite file, uploads, embedded broker) lives here. Settings
# create nothing: `make run` and scripts/run-embedded.sh make the folders.
VAR_DIR = Path(env_str("HELPDESK_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# Production refuses to start without a real secret; the development default
# is only accepted together with DEBUG or the embedded demo mode.
DEMO_MODE = env_bool("HELPDESK_DEMO", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or DEMO_MODE or env_bool("HELPDESK_TESTING", False):
        SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789abcdef"
    else:
        raise ConfigError("SECRET_KEY must be set (or DEBUG=true / HELPDESK_DEMO=true)")
elif len(SECRET_KEY) < 50:
    raise ConfigError("SECRET_KEY must be at least 50 characters long")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Links in e-mails are built from it, so a value without a scheme is refused.
# The embedded default follows PORT (`PORT=8080 make run`), so links in demo
# mail and the WebSocket origin below point to the server that runs.
SITE_URL = (
    env_url("SITE_URL", ("http", "https")) or f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1)}"
).rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Lockout after failed logins, second factor for agents (accounts/).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # The domain and what it builds on ...
    "accounts",
    "tickets",
    "kb",
    # ... and the doors around it.
    "portal",
    "console",
    "api",
    "mailbridge",
]

MIDDLEWARE = [
    # First: every answer, redirects and error pages included, carries the id.
    "helpdesk.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Pages for bare 405/429 answers, the goodbye after logout (after messages).
    "helpdesk.error_pages.ErrorPageMiddleware",
    "helpdesk.middleware.IdleSessionMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.helpdesk",
                "kb.context_processors.announcements",
            ],
            # `filesize` and `upload_rules` in every template (helpdesk/sizes.py).
            "builtins": ["helpdesk.template_library"],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
# A streaming replica of the primary: reports, dashboards and knowledge-base
# pages read from it (helpdesk/dbrouter.py, docs/deployment.md).
DATABASE_REPLICA_URL = env_url("DATABASE_REPLICA_URL", ("postgres", "postgresql"))
_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0 if env_bool("HELPDESK_TESTING", False) else 8)


def _postgresql(url: str) -> dict:
    database = dj_database_url.parse(url, conn_max_age=60)
    if database["ENGINE"] != "django.db.backends.postgresql":
        return database
    database["CONN_HEALTH_CHECKS"] = True
    database.setdefault("OPTIONS", {})
    # Under ASGI each request runs in a thread of its own, so a connection
    # kept by CONN_MAX_AGE is never reused: every request opened one until
    # PostgreSQL refused more. A pool per process bounds them instead:
    # web processes × DATABASE_POOL_SIZE + workers ≤ max_connections
    # (docs/scaling.md). DATABASE_POOL_SIZE=0 turns the pool off, for
    # PgBouncer in front; then connections close after each request.
    database["CONN_MAX_AGE"] = 0
    if _POOL_SIZE:
        database["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": _POOL_SIZE,
            # Waiting longer than this for a free connection is an error
            # (a 503 page), not an ever-growing queue.
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1),
        }
    return database


if DATABASE_URL:
    DATABASES = {"default": _postgresql(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_helpdesk")}
    if DATABASE_REPLICA_URL:
        if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise ConfigError("DATABASE_REPLICA_URL needs a PostgreSQL DATABASE_URL")
        DATABASES["replica"] = _postgresql(DATABASE_REPLICA_URL)
        # Tests read the primary's test database through the replica's name.
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
elif DATABASE_REPLICA_URL:
    raise ConfigError("DATABASE_REPLICA_URL needs a PostgreSQL DATABASE_URL")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "helpdesk.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue
                # instead of failing half-way with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Each thread keeps its connection. Closing the last connection to
            # a WAL database checkpoints the log and removes it, and a request
            # that opened and closed one paid that every time (about a fifth of
            # a filing's CPU over HTTP). The threads are few and fixed: the
            # HTTP bridge's pool (helpdesk/http_bridge.py), a worker's, the
            # poller's; runserver closes its per-request threads' connections.
            # Django's own ASGI handler (HELPDESK_ASGI_HTTP=django) runs every
            # request in a new thread, whose connection would be left open.
            "CONN_MAX_AGE": 0 if env_str("HELPDESK_ASGI_HTTP", "") == "django" else None,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASE_ROUTERS = ["helpdesk.dbrouter.ReplicaRouter"]

# --- Redis: cache, channel layer, celery broker -------------------------------
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "helpdesk.cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "hd",
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py times reads out after 5 s, the same time channels-redis
            # blocks waiting for a message: a quiet WebSocket would die.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "prefix": env_str("CHANNELS_PREFIX", "hd"),
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # kombu's filesystem transport: a real queue (tasks survive a restart of
    # the web process, countdown retries work) with no server to install.
    # `make run` starts one worker next to the web server.
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Remote-control messages (celery inspect/ping); kombu's default is ./control.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Europe/Sofia"
CELERY_BEAT_SCHEDULE = {
    "sla-sweep": {"task": "tickets.tasks.sla_sweep", "schedule": 60.0},
    "mailbridge-poll": {"task": "mailbridge.tasks.poll_all_mailboxes", "schedule": 30.0},
    # Received mail whose processing task was lost (docs/mailboxes.md).
    "mail-processing": {"task": "mailbridge.tasks.process_received", "schedule": 60.0},
    "outbox-delivery": {"task": "mailbridge.tasks.deliver_pending", "schedule": 60.0},
    "autoclose-resolved": {"task": "tickets.tasks.autoclose_resolved", "schedule": 3600.0},
    "webhook-delivery": {"task": "api.tasks.deliver_pending_webhooks", "schedule": 60.0},
    "raw-mail-purge": {"task": "mailbridge.tasks.purge_raw_mail", "schedule": 3600.0},
    # Supervisors' weekly and monthly reports (docs/reports.md), sent once per period.
    "scheduled-reports": {"task": "console.tasks.send_scheduled_reports", "schedule": 3600.0},
    "surge-detection": {"task": "tickets.tasks.detect_surges", "schedule": 120.0},
    # The dashboard's counters (tickets/counters.py) checked against the tickets, nightly.
    "reconcile-counters": {"task": "tickets.tasks.reconcile_counters", "schedule": 86400.0},
}
# Surge detection (tickets/surges.py): a cluster of similar requests raises an
# alert when it has at least `requests` requests from `institutions`
# institutions within `minutes`. "*" is the default; add a competence's code
# to give it its own thresholds.
HELPDESK_SURGE = {"*": {"requests": 8, "institutions": 5, "minutes": 60}}

# --- Auth ---------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# How long the rating link of a resolution mail works (tickets/rating_links.py).
HELPDESK_RATING_LINK_DAYS = env_int("HELPDESK_RATING_LINK_DAYS", 30, minimum=1)
# LockoutBackend (django-axes) refuses a locked-out username + address before
# any password is checked; PasswordBackend is Django's, limited by
# HELPDESK_LOCAL_LOGIN (docs/login.md).
AUTHENTICATION_BACKENDS = ["accounts.backends.LockoutBackend", "accounts.backends.PasswordBackend"]
OIDC_ENABLED = env_bool("OIDC_ENABLED", False)
# Login with edu.mon.bg profiles (docs/login.md). accounts/oidc.py reads the
# optional values below with the same defaults, so tests can switch OIDC on
# with the settings fixture alone.
if OIDC_ENABLED:
    AUTHENTICATION_BACKENDS.insert(1, "accounts.oidc.EduMonBackend")
    OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
    OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT")
    OIDC_OP_LOGOUT_ENDPOINT = env_str("OIDC_OP_LOGOUT_ENDPOINT")
    OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
    OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile neispuo")
    OIDC_ROLES_CLAIM = env_str("OIDC_ROLES_CLAIM", "neispuo_roles")
    OIDC_ALLOWED_DOMAINS = env_list("OIDC_ALLOWED_DOMAINS", ["edu.mon.bg"])
    OIDC_SESSION_HOURS = env_int("OIDC_SESSION_HOURS", 10, minimum=1)
    OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
    # mozilla-django-oidc waits forever by default; a hung provider must not
    # hold a web worker.
    OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10, minimum=1)
    OIDC_STORE_ID_TOKEN = True  # the id_token_hint for logging out at the provider
    OIDC_OP_LOGOUT_URL_METHOD = "accounts.oidc.provider_logout_url"
    _required = ["OIDC_RP_CLIENT_ID", "OIDC_RP_CLIENT_SECRET", "OIDC_OP_AUTHORIZATION_ENDPOINT"]
    _required += ["OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT"]
    if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")):
        _required.append("OIDC_OP_JWKS_ENDPOINT")
    for _name in _required:
        if not globals()[_name]:
            raise ConfigError(f"{_name} must be set when OIDC_ENABLED=true")
LOGIN_URL = "accounts:login"
# "everyone", or "admins-only": local passwords work only for administrators
# (staff); everyone else logs in with edu.mon.bg.
HELPDESK_LOCAL_LOGIN = env_choice("HELPDESK_LOCAL_LOGIN", "everyone", ("everyone", "admins-only"))
# Agents and administrators who log in with a password give a TOTP code too.
# (Off by default in the demo, whose agent logins would each need an authenticator.)
HELPDESK_OTP_REQUIRED = env_bool("HELPDESK_OTP_REQUIRED", not DEMO_MODE)
OTP_TOTP_ISSUER = env_str("HELPDESK_OTP_ISSUER", "НЕИСПУО поддръжка")
# django-axes: this many wrong passwords for one address from one client
# address lock that pair out for HELPDESK_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("HELPDESK_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("HELPDESK_LOCKOUT_MINUTES", 30, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.backends.lockout_username"
AXES_CLIENT_IP_CALLABLE = "accounts.audit.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_RESET_ON_SUCCESS = True
# Tries during a lockout do not extend it (else anyone could keep an account locked).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Logins are in the access audit (accounts.AccountEvent); no second log.
AXES_DISABLE_ACCESS_LOG = True
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
# A reset link works this long; requests per hour per client address and per e-mail address.
PASSWORD_RESET_TIMEOUT = 2 * 3600
HELPDESK_PASSWORD_RESETS_PER_ADDRESS_HOUR = 3
HELPDESK_PASSWORD_RESETS_PER_CLIENT_HOUR = 10
# A session ends after this many minutes without a request (accounts and
# helpdesk.middleware.IdleSessionMiddleware); the cookie and the stored
# session expire with it.
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 60, minimum=5)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# Sessions are read from the cache (Redis in deployment) and written through to
# the database: no session query on most requests, nothing lost if Redis restarts.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
if env_bool("HELPDESK_TESTING", False):
    # Tests create many people; the production hasher would cost seconds each run.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "bg"
LANGUAGES = [("bg", _("Bulgarian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Sofia"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Uploads live outside the web root and are served only by a view that
    # checks Ticket.objects.visible_to(); there is deliberately no MEDIA_URL.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "uploads"), "base_url": None},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Helpdesk rules -----------------------------------------------------------
HELPDESK = {
    "MAX_FILE_BYTES": env_int("HELPDESK_MAX_FILE_MB", 10, minimum=1) * 1024 * 1024,
    "MAX_REQUEST_BYTES": env_int("HELPDESK_MAX_REQUEST_MB", 25, minimum=1) * 1024 * 1024,
    "MAX_FILES": env_int("HELPDESK_MAX_FILES", 10, minimum=1),
    "MAX_TEXT_CHARS": env_int("HELPDESK_MAX_TEXT_CHARS", 20000, minimum=100),
    "REOPEN_DAYS": env_int("HELPDESK_REOPEN_DAYS", 14, minimum=0),
    "AUTOCLOSE_DAYS": env_int("HELPDESK_AUTOCLOSE_DAYS", 14, minimum=1),
    "FOLLOWUP_WINDOW_DAYS": env_int("HELPDESK_FOLLOWUP_WINDOW_DAYS", 30, minimum=0),
    "RATE_PER_PERSON_HOUR": env_int("HELPDESK_RATE_PER_PERSON_HOUR", 20, minimum=1),
    "RATE_PER_INSTITUTION_HOUR": env_int("HELPDESK_RATE_PER_INSTITUTION_HOUR", 60, minimum=1),
    "MAIL_PER_SENDER_HOUR": env_int("HELPDESK_MAIL_PER_SENDER_HOUR", 30, minimum=1),
    # "required": a From address counts as the person only when the receiving
    # server proved it (below); "off" trusts From as written (tests, a closed
    # mail system). `check --deploy` refuses "off".
    "MAIL_SENDER_AUTH": env_choice("HELPDESK_MAIL_SENDER_AUTH", "required", ("required", "off")),
    # Authentication-Results headers are trusted only from these authserv-ids
    # (the receiving mail server's own name; docs/mailboxes.md). Empty: no
    # From address is proven, so no mail becomes a staff reply.
    "MAIL_AUTHSERV_IDS": env_list("HELPDESK_MAIL_AUTHSERV_IDS", []),
    # A requester's reply whose From is not proven: "flag" (added, not as the
    # person, with a note) or "hold" (held for review like a staff reply).
    "MAIL_UNPROVEN_REQUESTER": env_choice(
        "HELPDESK_MAIL_UNPROVEN_REQUESTER", "flag", ("flag", "hold")
    ),
    # Acknowledgements of new mail requests: at most this many an hour in all,
    # and per sender domain; none to an unproven sender of bulk-looking mail.
    "ACK_PER_HOUR": env_int("HELPDESK_ACK_PER_HOUR", 600, minimum=1),
    "ACK_PER_DOMAIN_HOUR": env_int("HELPDESK_ACK_PER_DOMAIN_HOUR", 60, minimum=1),
    "SUPPORT_ADDRESS": env_str("HELPDESK_SUPPORT_ADDRESS", "support@helpdesk.example"),
    "LOOP_HEADER": "X-NEISPUO-Helpdesk-Loop",
    "INSTANCE_ID": env_str("HELPDESK_INSTANCE_ID", "neispuo-helpdesk"),
}
SLA_WARN_BEFORE_MINUTES = env_int("HELPDESK_SLA_WARN_BEFORE_MINUTES", 60, minimum=0)
# Personal data (docs/personal-data.md): keep the text as written before its
# ЕГН were masked (admins only), and how long raw received mail is kept.
HELPDESK_EGN_KEEP_ORIGINAL = env_bool("HELPDESK_EGN_KEEP_ORIGINAL", False)
HELPDESK_RAW_MAIL_DAYS = env_int("HELPDESK_RAW_MAIL_DAYS", 90, minimum=1)

# --- E-mail -------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    # Django would only fail at the first mail; refuse at start-up instead.
    raise ConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", HELPDESK["SUPPORT_ADDRESS"])
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if DEMO_MODE and "EMAIL_BACKEND" not in __import__("os").environ:
    # The demo has no mail server: write outgoing mail to var/mail as files.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- REST framework -----------------------------------------------------------
# docs/api.md: tokens, scopes, limits. API_RATE per person, API_TOKEN_RATE per token.
API_RATE = env_rate("API_RATE", "600/minute")
API_TOKEN_RATE = env_rate("API_TOKEN_RATE", "300/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "api.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.PersonRateThrottle",
        "api.throttling.TokenRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"user": API_RATE, "person": API_RATE, "token": API_TOKEN_RATE},
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "НЕИСПУО helpdesk API",
    "DESCRIPTION": "Requests, messages, files and the knowledge base of the НЕИСПУО "
    "support desk, by the same rules as its pages. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "MessageKindEnum": "tickets.models.Message.Kind",
        "InstitutionKindEnum": "accounts.models.Institution.Kind",
    },
}

# --- Security -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "helpdesk.error_pages.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
_HTTPS = env_bool("HTTPS", not (DEBUG or DEMO_MODE or env_bool("HELPDESK_TESTING", False)))
SESSION_COOKIE_SECURE = _HTTPS
CSRF_COOKIE_SECURE = _HTTPS
SECURE_SSL_REDIRECT = _HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if _HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _HTTPS
SECURE_HSTS_PRELOAD = _HTTPS
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp): scripts only from our static files, no
# inline scripts; WebSocket only to this site's own host (from SITE_URL). The
# admin gets the same policy; views that serve files set a stricter one.
_site = urlsplit(SITE_URL)
_WEBSOCKET_ORIGIN = f"{'wss' if _site.scheme == 'https' else 'ws'}://{_site.netloc}"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # Inline style attributes for small layout touches (and the admin's).
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF, _WEBSOCKET_ORIGIN],
        "object-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
    }
}
if OIDC_ENABLED and OIDC_OP_LOGOUT_ENDPOINT:
    # Logging out (a form) ends at the provider's end-session page; browsers
    # apply form-action to that redirect too.
    _logout = urlsplit(OIDC_OP_LOGOUT_ENDPOINT)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(
        f"{_logout.scheme}://{_logout.netloc}"
    )

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
# "plain" lines for people, "json" (one object a line) for a log collector;
# both carry the request id (helpdesk/observability.py).
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "helpdesk.observability.JsonFormatter"},
    },
    # 403, 404, 405, 429 are part of normal use: INFO without a traceback.
    "filters": {
        "expected_refusals": {"()": "helpdesk.logfilters.ExpectedRefusals"},
        "request_id": {"()": "helpdesk.observability.RequestIdFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"filters": ["expected_refusals"]},
    },
}
if LOG_FORMAT == "json":
    # Celery's workers would otherwise replace the root logger's handlers with
    # their own plain format.
    CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Operations: health checks, Sentry ---------------------------------------
# /health/live (the process answers) and /health/ready (docs/deployment.md).
# Details of /health/ready go to staff, callers on this machine and callers
# with `Authorization: Bearer $HEALTH_TOKEN`.
HEALTH_TOKEN = env_str("HEALTH_TOKEN")
HEALTH_CHECK_TIMEOUT = env_int("HEALTH_CHECK_TIMEOUT", 3, minimum=1)
HEALTH_PUBLIC_CACHE_SECONDS = env_int("HEALTH_PUBLIC_CACHE_SECONDS", 5, minimum=0)
HEALTH_MAILBOX_MAX_AGE = env_int("HEALTH_MAILBOX_MAX_AGE", 900, minimum=30)
HEALTH_OUTBOX_MAX_AGE = env_int("HEALTH_OUTBOX_MAX_AGE", 900, minimum=30)
HEALTH_OUTBOX_MAX_PENDING = env_int("HEALTH_OUTBOX_MAX_PENDING", 5000, minimum=1)
HEALTH_CHECKS = {
    "database": "helpdesk.health.database",
    "cache": "helpdesk.health.cache",
    "broker": "helpdesk.health.broker",
    "worker": "helpdesk.health.worker",
    "mailbox": "mailbridge.health.mailbox_polled",
    "outbox": "mailbridge.health.outbox_backlog",
}
HEALTH_REPLICA_MAX_LAG = env_int("HEALTH_REPLICA_MAX_LAG", 30, minimum=1)
if "replica" in DATABASES:
    HEALTH_CHECKS["replica"] = "helpdesk.health.replica"
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^healthz$"]

# Errors to Sentry, only when a DSN is given (sentry-sdk is then required).
SENTRY_DSN = env_url("SENTRY_DSN", ("http", "https"))
if SENTRY_DSN:
    from helpdesk.observability import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        release=env_str("SENTRY_RELEASE"),
        traces_sample_rate=env_int("SENTRY_TRACES_PERCENT", 0, minimum=0) / 100,
    )
