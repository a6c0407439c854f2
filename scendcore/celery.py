import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scendcore.settings.base")

app = Celery("scendcore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_hygiene(task=None, **kwargs):
    """What Django does around each request, around each task: drop a connection that
    broke or outlived CONN_MAX_AGE, and health-check the kept one on its next use.
    (CELERY_DB_REUSE_MAX keeps Celery from closing every connection at every task; an
    eager task runs inside its caller's transaction and is left alone.)"""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
