"""Django settings, read from the environment only (see README, "Configuration").

Each integration has its own group of variables; values are validated here, at start-up, so a
misconfigured deployment fails before it accepts its first event.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_bool, env_float, env_int, environment_check, load_secrets
from vinex.core.metrics import metrics_dir_prepare

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("VINEX_VAR_DIR", BASE_DIR.parent / "var")).resolve()

VINEX_ENV = os.environ.get("VINEX_ENV", "development")
if VINEX_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("VINEX_ENV must be development, test or production")
PRODUCTION = VINEX_ENV == "production"
DEBUG = env_bool("VINEX_DEBUG", default=False)

_secrets = load_secrets(production=PRODUCTION, var_dir=VAR_DIR)
SECRET_KEY = _secrets.secret_key
VINEX_FIELD_KEYS = _secrets.field_keys
# Optional: keys blind indexes independently of the field keys, so rotating those leaves lookups intact.
VINEX_INDEX_KEY = os.environ.get("VINEX_INDEX_KEY", "")

VINEX_PUBLIC_URL = os.environ.get("VINEX_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Production answers only to its public host unless told otherwise; development answers to any.
_default_hosts = (urlparse(VINEX_PUBLIC_URL).hostname or "") if PRODUCTION else "*"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("VINEX_ALLOWED_HOSTS", _default_hosts).split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [VINEX_PUBLIC_URL]

INSTALLED_APPS = [
    # Django's admin, with vinex's site: staff sign-in with a one-time code, administrators only.
    "vinex.accounts.apps.VinexAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_htmx",
    "ninja",  # the API documentation page's scripts served from here, not a CDN the CSP would refuse
    "vinex.core",
    "vinex.custody",
    "vinex.notify",
    "vinex.privacy",
    "vinex.audit",
    "vinex.accounts",
    "vinex.feeds",
    "vinex.locator",
    "vinex.linkage",
    "vinex.registrations",
    "vinex.portal",
    "vinex.hotline",
    "vinex.advocates",
    "vinex.site",
    "vinex.reports",  # quarterly statistical reports
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "vinex.core.middleware.SecurityHeadersMiddleware",
    "vinex.site.middleware.ApiErrorShapeMiddleware",  # /api/ errors in JSON, even a 405
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "vinex.core.middleware.RejectNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Every /staff/ and /admin/ request: signed in, verified by a one-time code, allowed by the matrix.
    "vinex.accounts.middleware.StaffAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: it counts failed logins and locks accounts.
    "axes.middleware.AxesMiddleware",
]
# What a request under /api/ runs (vinex.site.handler picks the chain by path): the same list without what
# only a browser needs. API clients send keys and read JSON, not pages, yet CSRF, sign-in, one-time codes,
# messages, static files, htmx and lock-outs cost a single-event POST about a tenth of its CPU. Sessions
# stay: the locator's search counts a client's session when it carries one, whichever way it searches.
BROWSER_ONLY_MIDDLEWARE = frozenset({
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "vinex.accounts.middleware.StaffAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
})
API_MIDDLEWARE = [name for name in MIDDLEWARE if name not in BROWSER_ONLY_MIDDLEWARE]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "vinex.urls"
WSGI_APPLICATION = "vinex.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
_default_db_url = f"sqlite:///{VAR_DIR / 'vinex.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("VINEX_DATABASE_URL", _default_db_url))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker read while the server writes; IMMEDIATE transactions take the write lock up
    # front so two writers queue on busy_timeout instead of failing with "database is locked". The
    # scheduler copies the write-ahead log back into the database (vinex.core.database); writers do it
    # themselves only past 256 MiB of log, so a large batch or import does not wait for it, and the
    # log file is cut back to 64 MiB afterwards.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; "
            "PRAGMA wal_autocheckpoint=65536; PRAGMA journal_size_limit=67108864;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file (not memory) so end-to-end tests can share it with server and worker processes; one per
    # test run so that runs side by side do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # Server-side binding sends values apart from the statement text, so psycopg can prepare a statement
    # the second time the same text runs (prepare_threshold) and PostgreSQL plans it once per connection
    # instead of on every request: most of a single event's backend CPU was planning.
    # Options given in the URL (``?sslmode=require``) are kept, and win. A pooler that shares one server
    # connection among clients and cannot carry prepared statements needs VINEX_DB_PREPARE=0.
    _prepare = env_bool("VINEX_DB_PREPARE", default=True)
    _prepared = {"server_side_binding": True, "prepare_threshold": 2} if _prepare else {}
    DATABASES["default"]["OPTIONS"] = {**_prepared, **DATABASES["default"].get("OPTIONS", {})}
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
# Connections live across requests: opening one costs a handshake on PostgreSQL, and on SQLite the
# pragmas above and a cold page cache.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("VINEX_DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request when it is missing
# Serve the apps' static files straight from their folders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
# --- Request limits -------------------------------------------------------------------------------
# A batch of 10,000 events is a few MB; anything far larger is refused with 413 before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("VINEX_MAX_BODY_BYTES", default=16 * 1024 * 1024)
VINEX_MAX_EVENTS_PER_BATCH = 10_000

# --- Security ------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Email ---------------------------------------------------------------------------------------
VINEX_EMAIL_URL = os.environ.get("VINEX_EMAIL_URL", "")
EMAIL_FILE_PATH = VAR_DIR / "mail"
if VINEX_EMAIL_URL:
    _email = urlparse(VINEX_EMAIL_URL)
    if _email.scheme not in {"smtp", "smtps", "smtp+tls"}:
        raise ImproperlyConfigured("VINEX_EMAIL_URL must be smtp://host:port, smtps://… or smtp+tls://…")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or (465 if _email.scheme == "smtps" else 25)
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
    EMAIL_TIMEOUT = env_int("VINEX_EMAIL_TIMEOUT", default=10)
elif PRODUCTION:
    raise ImproperlyConfigured("VINEX_EMAIL_URL is required in production")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("VINEX_EMAIL_FROM", "vinex notifications <notifications@vinex.invalid>")

# --- SMS and voice (Twilio) -----------------------------------------------------------------------
VINEX_SMS_PROVIDER = os.environ.get("VINEX_SMS_PROVIDER", "twilio" if PRODUCTION else "log")
if VINEX_SMS_PROVIDER not in {"twilio", "log"}:
    raise ImproperlyConfigured("VINEX_SMS_PROVIDER must be twilio or log")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = os.environ.get("TWILIO_FROM", "")
VINEX_HOTLINE_NUMBER = os.environ.get("VINEX_HOTLINE_NUMBER", "")
# Overridable only so a test can stand a fake Twilio on loopback; production leaves the default.
TWILIO_API_URL = os.environ.get("TWILIO_API_URL", "https://api.twilio.com")
if VINEX_SMS_PROVIDER == "twilio" and not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and TWILIO_FROM):
    raise ImproperlyConfigured("VINEX_SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM")

# --- Notification worker and retry policy ---------------------------------------------------------
VINEX_WORKER_POLL_SECONDS = env_float("VINEX_WORKER_POLL_SECONDS", default=0.1)
VINEX_WORKER_BATCH = env_int("VINEX_WORKER_BATCH", default=50)
VINEX_WORKER_THREADS = env_int("VINEX_WORKER_THREADS", default=8)
VINEX_WORKER_LEASE_SECONDS = env_int("VINEX_WORKER_LEASE_SECONDS", default=300)
VINEX_RETRY_BASE_SECONDS = env_float("VINEX_RETRY_BASE_SECONDS", default=30.0)
VINEX_RETRY_MAX_SECONDS = env_float("VINEX_RETRY_MAX_SECONDS", default=3600.0)
VINEX_RETRY_MAX_ATTEMPTS = env_int("VINEX_RETRY_MAX_ATTEMPTS", default=10)
# Voice notifications: how insistent calls are (a registrant may choose gentler settings later).
VINEX_VOICE_RETRY_UNANSWERED_MINUTES = env_int("VINEX_VOICE_RETRY_UNANSWERED_MINUTES", default=30)
VINEX_VOICE_RETRY_ANSWERED_MINUTES = env_int("VINEX_VOICE_RETRY_ANSWERED_MINUTES", default=120)
VINEX_VOICE_GIVE_UP_HOURS = env_int("VINEX_VOICE_GIVE_UP_HOURS", default=24)
VINEX_VOICE_PIN_TRIES = env_int("VINEX_VOICE_PIN_TRIES", default=3)

# --- Scheduler (periodic jobs; each app lists its own in <app>/jobs.py) -----------------------------
# How long a scheduler sleeps at most between looks for due jobs.
VINEX_SCHEDULER_POLL_SECONDS = env_float("VINEX_SCHEDULER_POLL_SECONDS", default=5.0)
# A running job holds its lease this long and renews it every third of it; a scheduler that dies
# mid-job lets another take the job over once the lease has run out.
VINEX_SCHEDULER_LEASE_SECONDS = env_int("VINEX_SCHEDULER_LEASE_SECONDS", default=60)
if not 0 < VINEX_SCHEDULER_POLL_SECONDS <= 3600:
    raise ImproperlyConfigured("VINEX_SCHEDULER_POLL_SECONDS must be more than 0 and at most 3600")
if VINEX_SCHEDULER_LEASE_SECONDS < 3:
    raise ImproperlyConfigured("VINEX_SCHEDULER_LEASE_SECONDS must be at least 3")


# --- Server ----------------------------------------------------------------------------------------
VINEX_BIND = os.environ.get("VINEX_BIND", "127.0.0.1:8000")
VINEX_SERVER_WORKERS = env_int("VINEX_SERVER_WORKERS", default=2)
VINEX_SERVER_THREADS = env_int("VINEX_SERVER_THREADS", default=4)
# The HTTP server under ``vinex serve`` (see its module): unset, granian when there are several threads a
# process and gunicorn's sync workers with one; "granian" or "gunicorn" to choose either way.
VINEX_SERVER = os.environ.get("VINEX_SERVER", "")
if VINEX_SERVER not in ("", "gunicorn", "granian"):
    raise ImproperlyConfigured("VINEX_SERVER must be granian, gunicorn or unset")

# --- API keys ----------------------------------------------------------------------------------------
# Seconds a server process remembers a key that authenticated (0: look it up on every request). A revoked
# key, or a key whose scopes changed, is refused or limited at most this long after the change.
VINEX_APIKEY_CACHE_SECONDS = env_int("VINEX_APIKEY_CACHE_SECONDS", default=5)
# Seconds a server process remembers an agency and its facilities between batches (0: read them for every
# batch). A new facility is read at once; a changed name or support line reaches messages at most this late.
VINEX_AGENCY_CACHE_SECONDS = env_int("VINEX_AGENCY_CACHE_SECONDS", default=5)

# --- Metrics (/metrics, Prometheus) ---------------------------------------------------------------
# Counters live in one directory per host that every vinex process writes to (vinex.core.metrics);
# an empty VINEX_METRICS_DIR keeps them in the process only (a single-process tool or test).
VINEX_METRICS_DIR = os.environ.get("VINEX_METRICS_DIR", str(VAR_DIR / "metrics"))
if VINEX_METRICS_DIR:
    metrics_dir_prepare(folder=Path(VINEX_METRICS_DIR))
# Prometheus presents it as "Authorization: Bearer <token>"; unset, /metrics answers 404 to everyone.
VINEX_METRICS_TOKEN = os.environ.get("VINEX_METRICS_TOKEN", "")

# --- Logging: one JSON object per line, never personal data -------------------------------------
VINEX_LOG_LEVEL = os.environ.get("VINEX_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "filters": {"personal_data": {"()": "vinex.policy.logfilter.PersonalDataFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["personal_data"]},
    },
    "root": {"handlers": ["console"], "level": VINEX_LOG_LEVEL},
    "loggers": {
        # The Twilio SDK logs request URLs at INFO; URLs can carry phone numbers.
        "twilio": {"level": "WARNING"},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- Production switches (README, "Production settings") -------------------------------------------
environment_check(env_set=bool(os.environ.get("VINEX_ENV")), env=VINEX_ENV, debug=DEBUG, bind=VINEX_BIND)
VINEX_ENV_SET = bool(os.environ.get("VINEX_ENV"))
# Behind HTTPS (a public URL starting https://) production turns these on unless told otherwise.
_HTTPS = PRODUCTION and VINEX_PUBLIC_URL.startswith("https://")
SECURE_SSL_REDIRECT = env_bool("VINEX_SSL_REDIRECT", default=_HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers check health over plain HTTP
SECURE_HSTS_SECONDS = env_int("VINEX_HSTS_SECONDS", default=31_536_000 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("VINEX_HSTS_INCLUDE_SUBDOMAINS", default=False)
# The header the TLS-terminating proxy sets to tell vinex the client used HTTPS; "none" when vinex
# terminates TLS itself (trust it only behind a proxy that overwrites the header).
_PROXY_SSL_HEADER = os.environ.get("VINEX_PROXY_SSL_HEADER", "X-Forwarded-Proto" if _HTTPS else "none").strip()
SECURE_PROXY_SSL_HEADER = (
    None if _PROXY_SSL_HEADER.lower() in {"", "none"}
    else (f"HTTP_{_PROXY_SSL_HEADER.upper().replace('-', '_')}", "https")
)
# The interactive API documentation page (/api/v1/docs); /api/v1/openapi.json is always published.
VINEX_API_DOCS = env_bool("VINEX_API_DOCS", default=True)
# Content-Security-Policy and Permissions-Policy of every response (vinex.core.middleware).
VINEX_CONTENT_SECURITY_POLICY = os.environ.get("VINEX_CONTENT_SECURITY_POLICY", "") or (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
VINEX_PERMISSIONS_POLICY = os.environ.get("VINEX_PERMISSIONS_POLICY", "") or (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), "
    "usb=()"
)

# --- Per-app settings (each app reads its own group of environment variables) ---------------------
from vinex.accounts.conf import *  # noqa: E402, F403
from vinex.advocates.conf import *  # noqa: E402, F403  (VINEX_ESCALATION_MINUTES, default 30)
from vinex.audit.conf import *  # noqa: E402, F403
from vinex.feeds.conf import *  # noqa: E402, F403
from vinex.hotline.conf import *  # noqa: E402, F403
from vinex.linkage.conf import *  # noqa: E402, F403
from vinex.locator.conf import *  # noqa: E402, F403
from vinex.notify.conf import *  # noqa: E402, F403
from vinex.privacy.conf import *  # noqa: E402, F403
from vinex.registrations.conf import *  # noqa: E402, F403
from vinex.reports.conf import *  # noqa: E402, F403
