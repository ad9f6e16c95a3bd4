"""Settings: defaults in code, overrides from the environment.

Every setting a deployment changes is read from an environment variable
(``SERVICEDESK_*``, ``DATABASE_URL`` and Django's own e-mail names); nothing
secret lives in the repository. See docs/configuration.md.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(os.environ.get("SERVICEDESK_DATA_DIR") or "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The key from the environment, else one generated once into the data directory."""
    if key := os.environ.get("SERVICEDESK_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("SERVICEDESK_DEBUG")
ALLOWED_HOSTS = env_list("SERVICEDESK_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("SERVICEDESK_CSRF_TRUSTED_ORIGINS", "")
# The address people use to reach the product; links in messages are built from it.
BASE_URL = os.environ.get("SERVICEDESK_BASE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "servicedesk.core",
    "servicedesk.accounts",
    "servicedesk.catalog",
    "servicedesk.incidents",
    "servicedesk.escalation",
    "servicedesk.oncall",
    "servicedesk.problems",
    "servicedesk.knownerrors",
    "servicedesk.notifications",
    "servicedesk.integrations",
    "servicedesk.reports",
    "servicedesk.web",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "servicedesk.core.middleware.UserPreferencesMiddleware",
    "servicedesk.core.middleware.RaceLostMiddleware",
    # Last, as django-axes asks: it turns lock-outs into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "servicedesk.urls"
WSGI_APPLICATION = "servicedesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
# SQLite is the embedded default; PostgreSQL (DATABASE_URL) is production.
SQLITE_PATH = DATA_DIR / "servicedesk.sqlite3"
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{SQLITE_PATH}",
        conn_max_age=int(os.environ.get("SERVICEDESK_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the
    # busy timeout instead of failing with "database is locked" on lock upgrade;
    # WAL lets readers proceed while one writer writes.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA foreign_keys=ON;"
        ),
    }
    # Tests use a file too: worker tests start real processes that must see it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # An incident is read with its ten references (select_related: ten LEFT
    # JOINs). PostgreSQL may reorder left joins that hang off one table, and
    # with the default join_collapse_limit (8) it searches those orders on
    # every query: 6 ms of planning for a 0.3 ms detail read, 55 ms for a list
    # page. At 4 it searches groups of four (0.9 ms and 4 ms) and still orders
    # the joins of ordinary filters. SERVICEDESK_PG_JOIN_COLLAPSE_LIMIT=8 puts
    # PostgreSQL's default back; empty sends no startup option (PgBouncer
    # refuses unknown ones: set it on the role instead, README).
    # Prepared statements: PostgreSQL parses and plans a statement once per
    # connection instead of on every execution (an incident detail request spent
    # more of the database's CPU planning than running: 500 -> 950 requests/s;
    # creates 170 -> 220/s, docs/performance.md). They need server-side binding.
    # Django leaves them off for connection poolers: PgBouncer in transaction
    # mode keeps them only from 1.21 with max_prepared_statements set; otherwise
    # SERVICEDESK_PG_PREPARE_THRESHOLD= (empty) switches them off (README).
    threshold = os.environ.get("SERVICEDESK_PG_PREPARE_THRESHOLD", "2").strip()
    if threshold:
        options["server_side_binding"] = True
        options["prepare_threshold"] = int(threshold)
    limit = os.environ.get("SERVICEDESK_PG_JOIN_COLLAPSE_LIMIT", "4").strip()
    if limit:
        options["options"] = (
            f"{options.get('options', '')} -c join_collapse_limit={int(limit)}".strip()
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and security ---------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("SERVICEDESK_LOGIN_THROTTLE", True)
AXES_FAILURE_LIMIT = int(os.environ.get("SERVICEDESK_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("SERVICEDESK_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

HTTPS = env_bool("SERVICEDESK_HTTPS")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SERVICEDESK_HSTS_SECONDS", "31536000"))
    SECURE_SSL_REDIRECT = env_bool("SERVICEDESK_SSL_REDIRECT", False)

# A strict policy: scripts only from our origin or with the per-request nonce;
# no eval, no inline handlers, no third-party origins (the product runs on
# closed networks).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("SERVICEDESK_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Served by WhiteNoise straight from the installed package: no collectstatic
# step, no CDN.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- E-mail (Django's own names) --------------------------------------------------
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "servicedesk@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# --- ServiceDesk behaviour -----------------------------------------------------------
# Days after resolution when an unconfirmed incident is closed automatically.
SERVICEDESK_AUTO_CLOSE_DAYS = float(os.environ.get("SERVICEDESK_AUTO_CLOSE_DAYS", "5"))
# Worker tuning; see docs/worker.md.
SERVICEDESK_WORKER_POLL_SECONDS = float(os.environ.get("SERVICEDESK_WORKER_POLL_SECONDS", "0.5"))
SERVICEDESK_WORKER_LEASE_SECONDS = int(os.environ.get("SERVICEDESK_WORKER_LEASE_SECONDS", "60"))
SERVICEDESK_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("SERVICEDESK_OUTBOX_MAX_ATTEMPTS", "12"))
SERVICEDESK_WEBHOOK_TIMEOUT = float(os.environ.get("SERVICEDESK_WEBHOOK_TIMEOUT", "10"))
SERVICEDESK_IDEMPOTENCY_TTL_HOURS = int(os.environ.get("SERVICEDESK_IDEMPOTENCY_TTL_HOURS", "24"))
# Reports: the zone months are cut in and business time (docs/reports.md); after a
# change, `servicedesk reports rebuild` recomputes the stored figures.
SERVICEDESK_REPORTS_TIME_ZONE = os.environ.get("SERVICEDESK_REPORTS_TIME_ZONE", "")
SERVICEDESK_REPORTS_CALENDAR = os.environ.get("SERVICEDESK_REPORTS_CALENDAR", "")
SERVICEDESK_REPORTS_BUSINESS_HOURS = os.environ.get(
    "SERVICEDESK_REPORTS_BUSINESS_HOURS", "09:00-18:00"
)
SERVICEDESK_REPORTS_HOLIDAYS = os.environ.get("SERVICEDESK_REPORTS_HOLIDAYS", "")
SERVICEDESK_REPORTS_TARGET_HOURS = os.environ.get("SERVICEDESK_REPORTS_TARGET_HOURS", "")

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SERVICEDESK_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
