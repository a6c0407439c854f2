"""Tests run against the local PostgreSQL and Redis (never SQLite): the invariants
depend on PostgreSQL's locking and partial indexes."""
import hashlib
import os
from pathlib import Path

# One run's test database and broker keys are named after its checkout, so two clones
# can run their suites side by side against one PostgreSQL and one Redis.
TEST_RUN = os.environ.get("SCENDCORE_TEST_RUN") or hashlib.sha1(
    str(Path(__file__).resolve().parents[2]).encode()).hexdigest()[:8]

os.environ.setdefault("DATABASE_URL", "postgres://scendcore:scendcore@127.0.0.1:5432/scendcore")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CELERY_BROKER_KEY_PREFIX", f"test-{TEST_RUN}:")
os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402,F401,F403
from .base import DATABASES  # noqa: E402

DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{TEST_RUN}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Eager unless a test asks for a real worker; the broker still points at real Redis.
CELERY_TASK_ALWAYS_EAGER = True
AXES_ENABLED = True
# Closed as in production: tests that talk to the local fake servers allow 127.0.0.1
# themselves (the `loopback_allowed` fixture).
OUTBOUND_ALLOWED_HOSTS = []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests never run collectstatic: without this, WhiteNoise warns about the missing
# STATIC_ROOT on every test client (live_server serves static files itself).
WHITENOISE_AUTOREFRESH = True
