"""Settings for callauto, all read from the environment (django-environ).

Every variable is documented in `.env.example` and README.md. Defaults suit `make run`
on one machine (DEBUG on, SQLite under var/, generated secrets kept under var/);
production sets DEBUG=false and must then provide SECRET_KEY and SECRETS_ENCRYPTION_KEYS.
"""

import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# Local state for one machine: generated dev secrets, the SQLite file, TLS files, media.
VAR_DIR = Path(env.str("CALLAUTO_VAR_DIR", default=str(BASE_DIR / "var"))).resolve()

DEBUG = env.bool("DEBUG", default=True)


def _dev_secret(name: str, make: Callable[[], str], variable: str) -> str:
    """Return a secret kept under var/ for development, creating it on first use.

    Outside DEBUG a missing secret is a configuration error: a key made up on one
    machine would differ between web and worker processes on others.
    """
    if not DEBUG:
        raise ImproperlyConfigured(f"{variable} must be set when DEBUG is off")
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret(
    "secret_key", lambda: secrets.token_urlsafe(50), "SECRET_KEY"
)
# Fernet keys that encrypt secrets at rest (access keys, webhook secrets). Comma-separated:
# the first encrypts, all decrypt, so a key can be rotated without losing stored secrets.
SECRETS_ENCRYPTION_KEYS = env.list("SECRETS_ENCRYPTION_KEYS", default=[]) or [
    _dev_secret(
        "secrets_encryption_key",
        lambda: Fernet.generate_key().decode(),
        "SECRETS_ENCRYPTION_KEYS",
    )
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# The base URL tenants' applications reach us on; connection strings are built from it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="https://127.0.0.1:8443").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL, "http://127.0.0.1:8000"]
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # Before django_q: our `qcluster` command (clean shutdown) shadows django-q2's.
    "callauto",
    "django_q",
    "tenants",
    "webhooks",
    "carrier",
    "calls",
    "recordings",
    "axes",
    "csp",
    "usage",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "reminders",
    "notifications",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "callauto.middleware.ApiQueryGuard",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.TenantMiddleware",
    "callauto.csp_policy.PolicyOnceCSPMiddleware",  # django-csp's, built once
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "callauto.urls"
WSGI_APPLICATION = "callauto.wsgi.application"

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
                "portal.context_processors.portal",
            ],
            # `{{ moment|when }}` everywhere: the display zone, UTC on hover (issue 17).
            "builtins": ["tenants.templatetags.when"],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR}/callauto.sqlite3"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers, the django-q2 cluster and the gateway share one file:
    # WAL lets readers run beside the writer, IMMEDIATE takes the write lock up front
    # so two writers queue on busy_timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The same backend, its health check without a round trip (callauto.postgresql).
        DATABASES["default"]["ENGINE"] = "callauto.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

# Invitations to join a tenant: how long a link works, and how its e-mail is sent
# (EMAIL_URL as django-environ reads it: consolemail:// prints it, smtp+tls://user:pw@host:587).
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="callauto <noreply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
    # Recording files. The filesystem under var/ by default; any S3-compatible store
    # through django-storages when RECORDINGS_S3_BUCKET is set (needs `pip install boto3`).
    "recordings": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # An empty value (as in .env.example) means the default too.
        "OPTIONS": {
            "location": env.str("RECORDINGS_DIR", default="") or str(VAR_DIR / "recordings")
        },
    },
}
if env.str("RECORDINGS_S3_BUCKET", default=""):
    STORAGES["recordings"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("RECORDINGS_S3_BUCKET"),
            "endpoint_url": env.str("RECORDINGS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("RECORDINGS_S3_REGION", default="") or None,
            "access_key": env.str("RECORDINGS_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("RECORDINGS_S3_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }

# --- Security: strict outside DEBUG, so `check --deploy` is clean in production. ---
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS preload is a commitment to browsers' preload lists that an operator opts into.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# usage.DailyUsage's covering index is a plain index on the embedded SQLite default; enough there.
SILENCED_SYSTEM_CHECKS += ["models.W040"]
# Callback bearer tokens: the `iss` claim; our OpenID configuration is published under it.
CALLBACK_JWT_ISSUER = env.str("CALLBACK_JWT_ISSUER", default=PUBLIC_BASE_URL)

# This machine's gateway name: it owns the calls it carries and reconciles them on restart.
GATEWAY_ID = env.str("GATEWAY_ID", default="gateway-1")
# How long the gateway's batch of carrier events may run before it commits (seconds): longer
# batches cost fewer round trips per event; API requests may wait that long on a call's lock.
GATEWAY_BATCH_SECONDS = env.float("GATEWAY_BATCH_SECONDS", default=0.05)
# SIP trunks (issue 14), under `run_gateway --driver sip`: each trunk's user agent listens on
# SIP_BIND_HOST at SIP_PORT_BASE + the trunk's id (0: any free port), RTP in the range, and
# SIP_ADVERTISED_HOST (if set) is the address put in Contact and SDP (behind NAT).
SIP_BIND_HOST = env.str("SIP_BIND_HOST", default="127.0.0.1")
SIP_PORT_BASE = env.int("SIP_PORT_BASE", default=5060)
SIP_ADVERTISED_HOST = env.str("SIP_ADVERTISED_HOST", default="")
SIP_RTP_PORT_MIN = env.int("SIP_RTP_PORT_MIN", default=20000)
SIP_RTP_PORT_MAX = env.int("SIP_RTP_PORT_MAX", default=30000)
# `make run`'s local SIP peer (Procfile "siplab", SIPp echoing): the demo trunk dials it.
SIP_LAB_PORT = env.int("SIP_LAB_PORT", default=5090)
# How often the gateway pings (OPTIONS) its trunks and writes their status.
SIP_TRUNK_CHECK_SECONDS = env.float("SIP_TRUNK_CHECK_SECONDS", default=30.0)
# > 0: each SIP carrier's loop thread (its 20 ms media clock) asks for SCHED_FIFO at this
# priority (1-99), so a loaded machine's run queue does not make RTP late. Needs root or
# CAP_SYS_NICE; refused, the gateway logs a warning and runs as without it. 0 = off.
MEDIA_REALTIME_PRIORITY = env.int("MEDIA_REALTIME_PRIORITY", default=0)
# How long an incoming call rings before the caller gives up (and its context expires).
INCOMING_CALL_RING_TIMEOUT_SECONDS = env.int("INCOMING_CALL_RING_TIMEOUT_SECONDS", default=30)

# Addresses (CIDRs) that outbound requests to tenant URLs may reach although private or
# loopback (see callauto/outbound.py). Development reaches apps on this machine; the
# cloud metadata addresses stay unreachable whatever is listed here.
OUTBOUND_ALLOWLIST = env.list(
    "OUTBOUND_ALLOWLIST", default=["127.0.0.0/8", "::1/128"] if DEBUG else []
)

# Callback delivery: per-attempt timeout, and retries due within this many seconds are
# waited for by the same worker. Off by default: a worker asleep for one tenant's broken
# endpoint delays everyone's callbacks, so retries wait for the minute sweeper instead.
DELIVERY_TIMEOUT_SECONDS = env.float("DELIVERY_TIMEOUT_SECONDS", default=15.0)
DELIVERY_INLINE_RETRY_SECONDS = env.float("DELIVERY_INLINE_RETRY_SECONDS", default=0.0)
# Delivery loops (webhooks/loop.py) that `manage.py qcluster` runs beside its workers: each
# claims up to DELIVERY_BATCH_SIZE callbacks at a time and starts POSTs for at most
# DELIVERY_BATCH_SECONDS per batch; idle, it waits for a NOTIFY (PostgreSQL) or polls.
# 0 loops = one django-q2 task per event instead (the test suite's inline mode).
DELIVERY_LOOPS = env.int("DELIVERY_LOOPS", default=1)
DELIVERY_BATCH_SIZE = env.int("DELIVERY_BATCH_SIZE", default=100)
DELIVERY_BATCH_SECONDS = env.float("DELIVERY_BATCH_SECONDS", default=1.0)
DELIVERY_CONCURRENCY = env.int("DELIVERY_CONCURRENCY", default=8)  # POSTs at once per loop
DELIVERY_POLL_SECONDS = env.float(
    "DELIVERY_POLL_SECONDS",
    default=0.1 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 0.5,
)
# Long-lived processes `manage.py qcluster` keeps running beside django-q2's cluster:
# dotted path of a function -> how many processes.
WORKER_SERVICES = {"webhooks.loop.run": DELIVERY_LOOPS}

# Rendered speech and fetched play files (a cache: safe to delete).
MEDIA_CACHE_DIR = Path(env.str("MEDIA_CACHE_DIR", default=str(VAR_DIR / "media-cache")))

# --- ACS-compatible HMAC authentication ---
HMAC_MAX_CLOCK_SKEW_SECONDS = env.int("HMAC_MAX_CLOCK_SKEW_SECONDS", default=300)

# The largest request body (besides uploaded files) any route reads; past it the APIs answer
# 400 RequestBodyTooLarge in the ACS shape (callauto.errors), DEBUG or not.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["callauto.hmac_auth.AcsHmacAuthentication"],
    # The permission table (tenants.permissions): every view names its actions.
    "DEFAULT_PERMISSION_CLASSES": ["tenants.api.permissions.TablePermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's, with a shortcut for a plain `Accept: application/json` (callauto.negotiation).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "callauto.negotiation.PlainJsonNegotiation",
    # Bounded nesting (callauto.parsers); Django caps the size (DATA_UPLOAD_MAX_MEMORY_SIZE).
    "DEFAULT_PARSER_CLASSES": ["callauto.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "callauto.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
# Portal sessions on the tenant API (members of the URL's tenant; CSRF enforced).
# First, so a request without a session falls through to HMAC (which answers the 401).
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"].insert(
    0, "tenants.api.session.MemberSessionAuthentication"
)
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "drf_spectacular.openapi.AutoSchema"
REST_FRAMEWORK["DEFAULT_FILTER_BACKENDS"] = ["django_filters.rest_framework.DjangoFilterBackend"]
SPECTACULAR_SETTINGS = {
    "TITLE": "callauto tenant API",
    "DESCRIPTION": "Reminder campaigns and deliveries, under /t/<tenant-slug>/api/v1/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page's JavaScript and CSS are served by us (no CDN).
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "PREPROCESSING_HOOKS": ["tenants.api.schema.tenant_api_only"],
    # The schema and docs pages follow the permission table like every other route.
    "SERVE_PERMISSIONS": ["tenants.api.permissions.TablePermission"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tenants.api.schema.acs_error_responses",
    ],
    # Tenant models' `objects` refuse unscoped queries; the schema only reads their shape.
    "DEFAULT_QUERY_MANAGER": "unscoped",
    "ENUM_NAME_OVERRIDES": {
        "AttemptStateEnum": "reminders.models.Attempt.State",
        "ImportStateEnum": "reminders.models.ImportJob.State",
        "DeliveryStateEnum": "webhooks.models.Delivery.State",
        "NotificationStatusEnum": "notifications.models.Notification.Status",
        "StatusEnum": "reminders.models.Appointment.Status",  # its name before notifications
        "NotificationDispositionEnum": "notifications.models.Disposition",
        "DtmfKeyEnum": "notifications.models.KEY_CHOICES",
    },
}

# Where the reminders app tells the platform to POST its calls' events (our own endpoint).
# Under DEBUG the plain-HTTP port `make run` binds, so the worker needs no local CA.
REMINDERS_CALLBACK_BASE_URL = env.str(
    "REMINDERS_CALLBACK_BASE_URL",
    default=f"http://127.0.0.1:{env.str('HTTP_PORT', default='8000')}"
    if DEBUG
    else PUBLIC_BASE_URL,
)

# Notifications (issue 16): their calls' events come to our own endpoint, like reminders';
# a launch starts a dispatcher run of this many seconds at once (None: wait for the minute
# schedule).
NOTIFICATIONS_CALLBACK_BASE_URL = env.str(
    "NOTIFICATIONS_CALLBACK_BASE_URL", default=REMINDERS_CALLBACK_BASE_URL
)
NOTIFY_KICK_SECONDS: float | None = env.float("NOTIFY_KICK_SECONDS", default=50.0)

# --- django-q2: ORM broker by default (the database is the source of truth anyway);
# Redis when REDIS_URL is set. catch_up off so downtime never dials a backlog at once.
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER: dict = {
    "name": "callauto",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 120,
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "poll": 0.2,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print each request warning a second time.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Portal login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused for AXES_COOLOFF_MINUTES. Keying on the
# pair means a stranger cannot lock a user out from everywhere by guessing at their name.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "callauto.client_ip.client_ip"
# Failed logins are still logged; this only drops the banner printed by every manage.py run.
AXES_VERBOSE = False

# --- Content Security Policy (django-csp): only our own scripts, styles and media; no
# inline script. Recordings and the softphone play audio from blob: URLs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
