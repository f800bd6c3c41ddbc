"""Settings for the chat server. Every value that varies between deployments comes from the
environment; `.env.example` and the README document each variable.

`DJANGO_ENV=production` turns on the production rules: `SECRET_KEY` is required, `DEBUG` must be
off, cookies are secure and HSTS is sent.
"""

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_choice(name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first is the default)."""
    value = os.environ.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def local_secret_key() -> str:
    """A development key kept in var/ so sessions and tokens survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if PRODUCTION:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY is required when DJANGO_ENV=production")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production")
elif not SECRET_KEY:
    SECRET_KEY = local_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "chatsite.apps.MongoAdminConfig",
    "chatsite.apps.MongoAuthConfig",
    "chatsite.apps.MongoContentTypesConfig",
    "chatsite.apps.MongoSessionsConfig",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_mongodb_backend",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "accounts",
    "messaging",
    "realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "chatsite.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "chatsite.middleware.ContentSecurityPolicyMiddleware",
    "accounts.cookies.AccessCookieRenewalMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
WSGI_APPLICATION = "chatsite.wsgi.application"

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
            ],
        },
    },
]

# --- Database: MongoDB through django-mongodb-backend ------------------------------------------
# `manage.py` starts the embedded SecantusDB and sets MONGODB_URI when it is unset.
MONGODB_URI = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/?directConnection=true")
# The launcher of the embedded database also names it in EMBEDDED_MONGODB_URI
# (chatsite/embedded_db.py): only then does the embedded database's adapter, chatsite.mongodb,
# stand in for the stock backend.
EMBEDDED_DATABASE = os.environ.get("EMBEDDED_MONGODB_URI") == MONGODB_URI
DATABASES = {
    "default": {
        "ENGINE": "chatsite.mongodb" if EMBEDDED_DATABASE else "django_mongodb_backend",
        "HOST": MONGODB_URI,
        "NAME": os.environ.get("MONGODB_NAME", "chat"),
        "OPTIONS": {
            # Fail fast (and answer 503) instead of hanging when the database is down.
            "serverSelectionTimeoutMS": env_int("MONGODB_TIMEOUT_MS", 5000),
            "connectTimeoutMS": env_int("MONGODB_TIMEOUT_MS", 5000),
            # An acknowledged write (a send's commit above all) is on a majority of the replica
            # set and in its journal: it survives a crash of the database process.
            "w": "majority",
            "journal": True,
        },
    },
}
DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
MIGRATION_MODULES = {
    "admin": "chatsite.mongo_migrations.admin",
    "auth": "chatsite.mongo_migrations.auth",
    "contenttypes": "chatsite.mongo_migrations.contenttypes",
    "sessions": "chatsite.mongo_migrations.sessions",
}

# --- Accounts --------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
# Django's defaults, with PBKDF2 computed off the event loop (accounts/hashers.py): the same
# algorithm name, so stored hashes verify either way.
PASSWORD_HASHERS = [
    "accounts.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# A password reset link works once, for this many seconds (Django's PasswordResetTokenGenerator).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600)

# --- Email (password reset links) ------------------------------------------------------------
# SMTP in production; the console (the server's output) in development. EMAIL_BACKEND names
# another Django backend, e.g. `django.core.mail.backends.filebased.EmailBackend` with
# EMAIL_FILE_PATH (a directory), which the tests read.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "chat@localhost")
# Where reset links point (`https://chat.example.com`); unset: the host the request came to
# (one of ALLOWED_HOSTS).
PUBLIC_URL = os.environ.get("PUBLIC_URL", "")

# --- Caches (rate limits); shared through Redis when REDIS_URL is set ------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # An unreachable Redis fails fast (rate limits then let requests through).
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerAuthentication",
        "accounts.authentication.CookieAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["chatsite.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "chatsite.openapi.ChatAutoSchema",
    "EXCEPTION_HANDLER": "chatsite.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Rate limits count the connection's address. Only the last TRUSTED_PROXY_COUNT proxies
    # (the ones in front of this server) are believed about X-Forwarded-For: with 0, a client
    # could name a new "address" on every request.
    "NUM_PROXIES": env_int("TRUSTED_PROXY_COUNT", 0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_LIFETIME_SECONDS", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env_int("JWT_REFRESH_LIFETIME_SECONDS", 14 * 24 * 3600)
    ),
    # Rotation and revocation are done by accounts.tokens (simplejwt's token_blacklist app
    # declares BigAutoField ids, which MongoDB cannot store).
    "ROTATE_REFRESH_TOKENS": False,
    "UPDATE_LAST_LOGIN": False,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# Browser sessions: the tokens in httpOnly cookies (accounts/cookies.py, docs/security.md).
AUTH_COOKIES = {
    # Browsers send a Secure cookie only over HTTPS (and to http://localhost).
    "SECURE": env_bool("AUTH_COOKIE_SECURE", PRODUCTION),
    # Of the access cookie; the refresh cookie is always Strict.
    "SAMESITE": env_choice("AUTH_COOKIE_SAMESITE", ("lax", "strict")).capitalize(),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chat API",
    "DESCRIPTION": (
        "REST API of the chat server. Realtime events are documented in docs/realtime.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets of fields named `kind`: a conversation's, and "group" (the only kind a
    # client creates).
    "ENUM_NAME_OVERRIDES": {
        "ConversationKindEnum": "messaging.models.Conversation.Kind",
        "NewConversationKindEnum": ["group"],
    },
}

# --- The chat product's own settings (one namespaced dict) ----------------------------------
CHAT = {
    # Login attempts per client address (DRF rate syntax: "<count>/<second|minute|hour|day>").
    "LOGIN_RATE": os.environ.get("LOGIN_RATE", "10/minute"),
    "SIGNUP_RATE": os.environ.get("SIGNUP_RATE", "20/hour"),
    # Password reset requests, counted per client address and per account asked about.
    "PASSWORD_RESET_RATE": os.environ.get("PASSWORD_RESET_RATE", "5/hour"),
    # Tries to set a password with a reset link (POST /api/auth/password/reset/confirm), per
    # client address.
    "PASSWORD_RESET_CONFIRM_RATE": os.environ.get("PASSWORD_RESET_CONFIRM_RATE", "10/hour"),
    # Requests that check the current password or may (change password, delete account,
    # PATCH /api/auth/me), per user: every attempt counts, right or wrong.
    "PASSWORD_CHECK_RATE": os.environ.get("PASSWORD_CHECK_RATE", "10/minute"),
    # Exports of one's own data (GET /api/auth/me/export), per user.
    "EXPORT_RATE": os.environ.get("EXPORT_RATE", "5/hour"),
    "SEND_RATE": os.environ.get("SEND_RATE", "60/10s"),
    # Edits, deletes and reactions per user (REST and socket events share the count).
    "ACTION_RATE": os.environ.get("ACTION_RATE", "60/10s"),
    "SEARCH_RATE": os.environ.get("SEARCH_RATE", "60/minute"),
    "MESSAGE_MAX_LENGTH": env_int("MESSAGE_MAX_LENGTH", 4000),
    # How long after sending its author may edit a message (seconds; 0: any time).
    "MESSAGE_EDIT_WINDOW_SECONDS": env_int("MESSAGE_EDIT_WINDOW_SECONDS", 3600),
    # Members of one group, its creator included.
    "GROUP_MAX_MEMBERS": env_int("GROUP_MAX_MEMBERS", 1000),
    # Write transactions one process runs at once (messaging/transactions.py); others queue.
    "MAX_TRANSACTIONS": env_int("MONGODB_MAX_TRANSACTIONS", 4),
    # Attachments: bytes per file, pixels per image (refused before decoding: decompression
    # bombs), uploads per user, and how long an upload no message uses is kept.
    "ATTACHMENT_MAX_BYTES": env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),
    "ATTACHMENT_MAX_PIXELS": env_int("ATTACHMENT_MAX_PIXELS", 40_000_000),
    "UPLOAD_RATE": os.environ.get("UPLOAD_RATE", "30/minute"),
    "ATTACHMENT_UNUSED_SECONDS": env_int("ATTACHMENT_UNUSED_SECONDS", 24 * 3600),
    "ATTACHMENT_PURGE_SECONDS": env_int("ATTACHMENT_PURGE_SECONDS", 3600),
    "PAGE_SIZE": 50,
    "PAGE_SIZE_MAX": 200,
    # Staff and superusers are listed as contacts (GET /api/users) only to the users who share
    # a conversation with them.
    "HIDE_STAFF_FROM_CONTACTS": env_bool("HIDE_STAFF_FROM_CONTACTS", True),
}

# --- Realtime (Socket.IO) --------------------------------------------------------------------
REALTIME = {
    "ASYNC_MODE": os.environ.get("REALTIME_ASYNC_MODE", "eventlet"),
    "MAX_HTTP_BUFFER_SIZE": env_int("REALTIME_MAX_PACKET_BYTES", 64 * 1024),
    "PING_INTERVAL": env_int("REALTIME_PING_INTERVAL", 25),
    "PING_TIMEOUT": env_int("REALTIME_PING_TIMEOUT", 20),
    "AUTH_RECHECK_SECONDS": env_int("REALTIME_AUTH_RECHECK_SECONDS", 30),
    "MAX_CONNECTIONS": env_int("REALTIME_MAX_CONNECTIONS", 20000),
    # Who hears `userOnline`/`userOffline`: "contacts" (users sharing a conversation, plus
    # sockets that asked with `watchPresence`) or "everyone" (every socket: O(N²) frames in a
    # connect storm, for small deployments). docs/realtime.md explains both.
    "PRESENCE_FANOUT": env_choice("REALTIME_PRESENCE_FANOUT", ("contacts", "everyone")),
    "PRESENCE_WATCH_MAX": 500,
    # Whom `watchPresence` may watch: "contacts" (users sharing a conversation) or "anyone"
    # (public presence, for deployments that want a directory with online dots).
    "PRESENCE_WATCH": env_choice("REALTIME_PRESENCE_WATCH", ("contacts", "anyone")),
    # Deprecated: every socket hears presence as whole `getOnlineUsers` lists (with everyone
    # online in them), as the original front end's sockets (`?userId=`) do without it.
    "LEGACY_PRESENCE_BROADCAST": env_bool("REALTIME_LEGACY_PRESENCE", False),
    # At most one list per socket per interval (realtime/online_lists.py).
    "LEGACY_PRESENCE_DEBOUNCE_MS": env_int("REALTIME_LEGACY_PRESENCE_DEBOUNCE_MS", 500),
    "EVENT_RATE": os.environ.get("REALTIME_EVENT_RATE", "30/s"),
    "TRUST_X_FORWARDED_PROTO": env_bool("TRUST_X_FORWARDED_PROTO", False),
    "PRESENCE_TTL_SECONDS": env_int("REALTIME_PRESENCE_TTL_SECONDS", 60),
    # With REDIS_URL: a process that has not beaten for this long is taken for dead, and the
    # others announce its users offline (docs/realtime.md, "Several processes").
    "PRESENCE_NODE_TIMEOUT_SECONDS": env_int("REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS", 15),
    # Groups with more members than this send `messagesRead` to the reader's own sockets only
    # (the others read the markers from the API when they want them).
    "READ_RECEIPTS_MAX_MEMBERS": env_int("REALTIME_READ_RECEIPTS_MAX_MEMBERS", 100),
    # `userSignedUp` to every socket (original-mode ones excepted) when someone signs up, so
    # that lists of every user show them at once: one frame per socket per signup.
    "ANNOUNCE_SIGNUPS": env_bool("REALTIME_ANNOUNCE_SIGNUPS", True),
    # One log line per HTTP request and per socket connect/disconnect, naming the process
    # (realtime/access_log.py); `serve --access-log` and `--name` too. The name defaults to
    # serve's host:port.
    "ACCESS_LOG": env_bool("ACCESS_LOG", False),
    "PROCESS_NAME": os.environ.get("PROCESS_NAME", ""),
    # `serve` shares its port with other processes that ask the same (SO_REUSEPORT): a new
    # process takes over before the old one stops (docs/operations.md, "Restarting without a
    # gap"); `serve --reuse-port` too.
    "REUSE_PORT": env_bool("REUSE_PORT", False),
    # ASGI mode: threads running the Socket.IO handlers (Django code) beside the event loop.
    "ASGI_HANDLER_THREADS": env_int("REALTIME_ASGI_HANDLER_THREADS", 128),
}

if REALTIME["ASGI_HANDLER_THREADS"] < 1:
    raise ImproperlyConfigured("REALTIME_ASGI_HANDLER_THREADS must be at least 1")
if not 1 <= REALTIME["PRESENCE_NODE_TIMEOUT_SECONDS"] < REALTIME["PRESENCE_TTL_SECONDS"]:
    # The survivors must take a dead process's counts before they expire unannounced.
    raise ImproperlyConfigured(
        "REALTIME_PRESENCE_NODE_TIMEOUT_SECONDS must be at least 1 and less than "
        "REALTIME_PRESENCE_TTL_SECONDS"
    )

# --- Fault drills (tests only) ---------------------------------------------------------------
# `CHAT_FAULT_HOOKS=true` lets the fault tests (chatsite/tests/test_faults.py) make a serving
# process fail at a chosen point; nothing else reads the hooks' variables. Refused in production.
FAULT_HOOKS = env_bool("CHAT_FAULT_HOOKS", False)
if FAULT_HOOKS and PRODUCTION:
    raise ImproperlyConfigured("CHAT_FAULT_HOOKS is for tests; it must be off in production")
# `exit`: the process exits at once after a messaging transaction commits, before the work it
# leaves for after the commit (the emits) runs, as a process killed at that moment would.
FAULT_AFTER_COMMIT = env_choice("CHAT_FAULT_AFTER_COMMIT", ("", "exit")) if FAULT_HOOKS else ""

# --- CORS (the same list gates Socket.IO origins) --------------------------------------------
CORS_ALLOWED_ORIGINS = env_list(
    "CORS_ALLOWED_ORIGINS", "" if PRODUCTION else "http://localhost:3000,http://127.0.0.1:3000"
)
CORS_URLS_REGEX = r"^/api/.*$"

# --- Files: attachments in MongoDB's GridFS by default (messaging/storage.py) -----------------
# Another Django storage is a settings change: ATTACHMENT_STORAGE_BACKEND names its class and
# ATTACHMENT_STORAGE_OPTIONS (JSON) its options, e.g. django-storages' S3 storage (README).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": {
        "BACKEND": os.environ.get("ATTACHMENT_STORAGE_BACKEND", "messaging.storage.GridFSStorage"),
        "OPTIONS": json.loads(os.environ.get("ATTACHMENT_STORAGE_OPTIONS") or "{}"),
    },
}

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security --------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 256 * 1024)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# A load balancer's health probe comes over plain HTTP: answered, not redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Error pages and reports hide the password inside connection strings (MONGODB_URI...) too.
DEFAULT_EXCEPTION_REPORTER_FILTER = "chatsite.reporting.UrlPasswordReporterFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
