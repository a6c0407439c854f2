"""Liveness of the parts the app cannot work without."""
from django.conf import settings
from django.db import connection


def _database():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any driver error means "unreachable" to an operator
        return f"error: {exc.__class__.__name__}"


def _broker():
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL:
        return "eager (no broker configured)"
    try:
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2).ping()
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


def check():
    report = {"database": _database(), "broker": _broker()}
    # The database is the authority: without it nothing works. A broker outage loses
    # no work (the next sweep finds it), so it degrades the report but not the status.
    ok = report["database"] == "ok"
    report["status"] = "ok" if ok and not report["broker"].startswith("error") else (
        "degraded" if ok else "down"
    )
    return report, ok
