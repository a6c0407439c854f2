import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scendcore.settings.base")

app = Celery("scendcore")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _no_broker_when_eager(sender, source, **kwargs):
    """Zero-config runs tasks inline and needs no broker, but Celery still names one (its
    AMQP default) in beat's banner. memory:// is only named: eager tasks never reach it,
    and no worker is started without a configured broker."""
    if source.get("task_always_eager") and not source.get("broker_url"):
        source["broker_url"] = "memory://"


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


# A worker allocates tens of thousands of short-lived objects per processor batch (rows,
# drafts, instances), nearly all freed by reference counting. With Python's default
# thresholds the cyclic collector ran about 25 times per batch, and each full pass
# walked every object Django and Celery had loaded at startup: about 25 µs per step.
GC_THRESHOLD = (10_000, 10, 10)


@signals.worker_ready.connect
@signals.worker_process_init.connect
def _settle_garbage_collector(**kwargs):
    """Once the worker (or a pool child) has started: move what startup loaded out of the
    collector's reach, and collect young objects less often."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
