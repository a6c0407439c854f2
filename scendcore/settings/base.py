"""ScendCore settings, driven by environment variables through django-environ.

Zero-config (nothing set): DEBUG on, a SQLite file in the project folder, Celery tasks
run eagerly. Production-like: DATABASE_URL and REDIS_URL set, DEBUG off, SECRET_KEY
required.
"""
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production mode (DEBUG=false) refuses to start "
            "without one: set SECRET_KEY to a long random string (see .env.example)."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for links in emails (unsubscribe, tracking): emails leave the request,
# so no request can tell the host. Production must say it; zero-config derives it from
# the HOST and PORT `make run` serves on, or every link in demo mail would be dead.
SITE_URL = env.str("SITE_URL", default="").rstrip("/")
if not SITE_URL:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SITE_URL is not set. Production mode (DEBUG=false) refuses to start without it: "
            "set SITE_URL to the public https:// address of this site, the base of every "
            "unsubscribe and tracking link in sent mail (see .env.example)."
        )
    _host = env.str("HOST", default="127.0.0.1")
    # Served on every interface: the wildcard address is no place to link to.
    _host = "127.0.0.1" if _host in ("", "0.0.0.0", "::", "[::]") else _host
    _host = f"[{_host}]" if ":" in _host and not _host.startswith("[") else _host
    _port = env.int("PORT", default=8000)
    SITE_URL = f"http://{_host}:{_port}"

INSTALLED_APPS = [
    "scendcore.apps.ScendcoreAdminConfig",  # django.contrib.admin, tenant-scoped
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "axes",
    "csp",
    "ninja",  # its templates and static files: the API docs load nothing from a CDN
    "scendcore",
    "contacts",
    "sequences",
    "agents",
    "approvals",
    "messaging",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside everything else, so static files, redirects and error pages get the policy too.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "scendcore.middleware.HtmxHistoryRestoreMiddleware",
    "scendcore.middleware.TenantMiddleware",
    "scendcore.middleware.ViewerTimezoneMiddleware",
    "scendcore.middleware.LoginRequiredByDefaultMiddleware",
    "axes.middleware.AxesMiddleware",
    "scendcore.middleware.AppNotFoundPageMiddleware",
]

# Content-Security-Policy on every response: scripts, styles and images only from the
# app's own origin, no inline code or eval, no plugins, no framing, forms post only here.
# Templates therefore carry no inline <script>, style="" or on*= handlers (static/js and
# static/css instead), and htmx is configured not to inject styles or eval (base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "scendcore.urls"
WSGI_APPLICATION = "scendcore.wsgi.application"

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
                "scendcore.context_processors.tenancy",
                "approvals.context_processors.pending_count",
                "messaging.context_processors.paused_mailboxes",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Zero-config mode: the web server and Celery beat write the same file; wait for the
    # lock instead of failing, and take it at the start of each transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Failed logins: lock by username+IP after 5 failures for 15 minutes; the login page
# shows the same message whether or not the username exists.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# On top of that, an address that fails this many times within the same 15 minutes is
# locked whatever usernames it tries (password spraying); see scendcore.login_throttle.
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=20)
AXES_HANDLER = "scendcore.login_throttle.AddressThrottledAxesHandler"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# Email: the console backend prints in development; production sets SMTP values.
# Sequence mail goes through each mailbox's own SMTP connection, not this one.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend" if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ScendCore <no-reply@localhost>")

# Keys for the credentials workspaces store (LLM API keys, mailbox passwords): the first
# encrypts, every one decrypts, so a new key goes first and `manage.py
# rotate_field_encryption` re-encrypts with it. FIELD_ENCRYPTION_KEY is the older
# single-key form and decrypts after them. Neither set: derived from SECRET_KEY (development);
# that derived key always decrypts last, so rotation can move such secrets to a real key.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
# Environment variables an operator may name as a workspace credential (in the Django
# admin, as a superuser); each must start with SCENDCORE_TENANT_. Tenants never can.
TENANT_SECRET_ENV_NAMES = env.list("TENANT_SECRET_ENV_NAMES", default=[])
# Hosts a workspace's model server, SMTP/IMAP host or the SMS gateway may be on although
# they resolve to loopback, private, link-local or other non-public addresses: names,
# addresses or networks (10.0.0.0/8). Development admits loopback for the demo mailbox's
# SMTP catcher on 127.0.0.1:1025; production admits nothing unless listed.
OUTBOUND_ALLOWED_HOSTS = env.list(
    "OUTBOUND_ALLOWED_HOSTS", default=["127.0.0.1", "::1", "localhost"] if DEBUG else [],
)
# Key of the suppression list's address hashes (HMAC-SHA256; contacts.suppression).
# Derived from SECRET_KEY when unset, which the deploy check warns about: changing the
# key orphans every stored hash, and the addresses behind them could be mailed again.
SUPPRESSION_HASH_KEY = env.str("SUPPRESSION_HASH_KEY", default="")

# SMS: "console" logs messages (development); "twilio" posts to a Twilio-compatible API
# at SMS_API_BASE with the account SID and auth token. With an auth token set, inbound
# SMS webhooks must also carry a valid X-Twilio-Signature made with it.
SMS_BACKEND = env.str("SMS_BACKEND", default="console")
SMS_ACCOUNT_SID = env.str("SMS_ACCOUNT_SID", default="")
SMS_AUTH_TOKEN = env.str("SMS_AUTH_TOKEN", default="")
SMS_FROM = env.str("SMS_FROM", default="")
SMS_API_BASE = env.str("SMS_API_BASE", default="https://api.twilio.com")
# Backend for sequence mail; each mailbox's own SMTP host and credentials are passed in.
# The default checks each host against OUTBOUND_ALLOWED_HOSTS and connects to the
# address it checked.
MESSAGING_EMAIL_BACKEND = env.str(
    "MESSAGING_EMAIL_BACKEND", default="messaging.services.transport.GuardedSmtpBackend"
)

# Celery: with no broker configured, tasks run inline (zero-config mode).
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task
# unless this is set: each processor batch then paid for a new PostgreSQL backend (and
# its temporary staging tables). With it, connections are recycled every this many
# tasks, and scendcore.celery closes broken or aged ones the way Django does per request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Several deployments (or several test runs) can share one Redis: every broker key of
# this one starts with the prefix.
CELERY_BROKER_KEY_PREFIX = env.str("CELERY_BROKER_KEY_PREFIX", default="")
if CELERY_BROKER_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": CELERY_BROKER_KEY_PREFIX}

PROCESSOR_INTERVAL_SECONDS = env.int("PROCESSOR_INTERVAL_SECONDS", default=60)
# A claimed batch's lease: a worker that dies gives its rows back when the lease runs
# out. Batch size (a batch costs a dozen statements and one commit whatever its size;
# 1,000 rows take about a third of a second on one worker), and the most rows leased at once
# (bounds what waits in the broker).
PROCESSOR_LEASE_SECONDS = env.int("PROCESSOR_LEASE_SECONDS", default=300)
PROCESSOR_BATCH_SIZE = env.int("PROCESSOR_BATCH_SIZE", default=1000)
PROCESSOR_MAX_IN_FLIGHT = env.int("PROCESSOR_MAX_IN_FLIGHT", default=20000)
# Kick a delivery run when a batch queues messages (off: the outbox waits for its beat).
PROCESSOR_KICK_DELIVERY = env.bool("PROCESSOR_KICK_DELIVERY", default=True)

# The one place periodic jobs are declared. The sequence sweep claims due enrollments
# from PostgreSQL; its cadence bounds how late a step can be (the seed allows 2 min).
CELERY_BEAT_SCHEDULE = {}
# The sequence sweep: every PROCESSOR_INTERVAL_SECONDS (60 s; the seed's 2 min is the
# slowest acceptable). Enrolling, approving and completing tasks also kick it on commit,
# and a worker that finishes a full batch asks for the next, so a backlog never waits a beat.
CELERY_BEAT_SCHEDULE["sequences.sweep"] = {
    "task": "sequences.sweep",
    "schedule": float(PROCESSOR_INTERVAL_SECONDS),
    "options": {"expire_seconds": PROCESSOR_INTERVAL_SECONDS},
}
# Agent jobs whose retry backoff has passed (or whose worker died): every minute, so a
# backoff of 30 s+ is honoured to within a minute without Celery countdowns.
CELERY_BEAT_SCHEDULE["agents.retry_due_jobs"] = {"task": "agents.retry_due_jobs", "schedule": 60.0}
# Drafts past their sequence's review window follow its rejection policy; hours-long
# windows make five minutes precise enough.
CELERY_BEAT_SCHEDULE["approvals.expire_due"] = {"task": "approvals.expire_due", "schedule": 300.0}
# Auto-enrollment entry rules: every 10 minutes is plenty for "new lead matches a rule"
# and keeps the set-based evaluation over all contacts cheap.
CELERY_BEAT_SCHEDULE["contacts.auto_enroll_all"] = {
    "task": "contacts.auto_enroll_all",
    "schedule": 600.0,
}
# Delivery: enqueueing kicks a run on commit; this catches deferred messages (limits,
# backoff, frequency caps) within 30 s of their slot and turns stale sends into "unknown".
CELERY_BEAT_SCHEDULE["messaging.deliver_due"] = {"task": "messaging.deliver_due", "schedule": 30.0}
# Enrollment tallies (the dashboard's figures) are appended to by triggers; folding them
# every 5 minutes keeps a user's figures a handful of rows.
CELERY_BEAT_SCHEDULE["sequences.compact_tallies"] = {"task": "sequences.compact_tallies", "schedule": 300.0}
# IMAP reply polling for mailboxes that enable it: every 2 minutes, like the processor.
CELERY_BEAT_SCHEDULE["messaging.poll_imap_all"] = {"task": "messaging.poll_imap_all", "schedule": 120.0}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"one_line_403": {"()": "scendcore.logging_filters.OneLinePermissionDenied"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["one_line_403"]},
    },
}
