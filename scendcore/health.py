"""Liveness of the parts the app cannot work without."""
from django.conf import settings
from django.db import connection


def _database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # any driver error means "unreachable" to an operator
        return f"error: {exc.__class__.__name__}"


def _broker():
    url = settings.CELERY_BROKER_URL
    if not url:
        return "none (tasks run inline)"
    if not url.startswith(("redis://", "rediss://")):
        return "configured"
    try:
        import redis

        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


def check():
    report = {"database": _database(), "broker": _broker()}
    # The database is the authority: without it nothing works. A broker outage loses
    # no work (the next sweep finds it), so it degrades the report but not the status.
    db_ok = report["database"] == "ok"
    if not db_ok:
        report["status"] = "down"
    elif report["broker"].startswith("error"):
        report["status"] = "degraded"
    else:
        report["status"] = "ok"
    return report, db_ok
