"""Django settings for rxdesk, read from the environment.

DATABASE_URL          default: SQLite under var/ (WAL, synchronous=FULL, IMMEDIATE transactions)
RXDESK_SECRET_KEY     default: a random key kept in var/secret_key (mode 0600)
RXDESK_DEBUG          "1" for development only
RXDESK_ALLOWED_HOSTS  comma-separated, default 127.0.0.1,localhost
RXDESK_HTTPS          "1" (default when not debugging): secure cookies, HSTS, redirect to HTTPS
RXDESK_VAR_DIR        where the SQLite database and the secret key live (default ./var)
RXDESK_STATIC_MANIFEST "1" in production after collectstatic: hashed, compressed static files
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("RXDESK_VAR_DIR") or Path.cwd() / "var").resolve()

DEBUG = _flag("RXDESK_DEBUG", False)
HTTPS = _flag("RXDESK_HTTPS", not DEBUG)


def _secret_key() -> str:
    key = os.environ.get("RXDESK_SECRET_KEY", "")
    if key:
        return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("RXDESK_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "ninja",
    "rxdesk.core",
    "rxdesk.patients",
    "rxdesk.catalog",
    "rxdesk.inventory",
    "rxdesk.rx",
    "rxdesk.screening",
    "rxdesk.pos",
    "rxdesk.claims",
    "rxdesk.controlled",
    "rxdesk.compounding",
    "rxdesk.institutional",
    "rxdesk.immunizations",
    "rxdesk.care",
    "rxdesk.people",
    "rxdesk.operations",
    "rxdesk.reports",
    "rxdesk.program340b",
    "rxdesk.medsync",
    "rxdesk.formulary",
    "rxdesk.outreach",
    "rxdesk.fhir",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "rxdesk.core.security.SecurityHeadersMiddleware",  # CSP etc., static files included
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "rxdesk.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "rxdesk.core.middleware.SessionTimeoutMiddleware",
    "rxdesk.core.middleware.SiteTimeZoneMiddleware",
    "rxdesk.core.middleware.MfaGateMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rxdesk.urls"
WSGI_APPLICATION = "rxdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rxdesk.core.context_processors.workstation",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------

_SQLITE_OPTIONS = {
    # Writers queue instead of failing at once; every transaction takes the write lock at
    # BEGIN so a read-then-write never deadlocks on lock upgrade (DESIGN, stock ledger).
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
        "PRAGMA busy_timeout=20000;"
    ),
}

_default_db_url = f"sqlite:///{VAR_DIR / 'rxdesk.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or _default_db_url, conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = dict(_SQLITE_OPTIONS)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get(
        "RXDESK_TEST_DATABASE_NAME", "test_rxdesk"
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, sessions, passwords --------------------------------------------------------------

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# NIST SP 800-63B: at least 8 characters, screened against common passwords and the
# user's own details, no composition rules, no forced periodic change.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A session ends 12 hours after sign-in whatever happens; idle time is checked per site by
# rxdesk.core.middleware.SessionTimeoutMiddleware (default 15 minutes).
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60
SESSION_IDLE_MINUTES_DEFAULT = 15
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

# Throttle repeated sign-in failures (django-axes): 5 failures for one user name from one
# address lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_VERBOSE = False

OTP_TOTP_ISSUER = "rxdesk"

# --- Security headers -----------------------------------------------------------------------

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("RXDESK_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

# --- Static files, i18n, time ---------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Whole-pharmacy FHIR bulk exports (NDJSON files, PHI: keep this directory private).
RXDESK_FHIR_EXPORT_DIR = Path(os.environ.get("RXDESK_FHIR_EXPORT_DIR") or VAR_DIR / "fhir-export")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
# RXDESK_STATIC_MANIFEST=1 (production, after `rxdesk collectstatic`): hashed, compressed
# file names cached for a year by browsers. Off by default: it needs collectstatic first.
STATIC_MANIFEST = _flag("RXDESK_STATIC_MANIFEST", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

NINJA_PAGINATION_PER_PAGE = 50
