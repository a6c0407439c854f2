"""How a Celery worker process settles in before it takes tasks."""
import gc

from celery import signals

from scendcore import celery as scendcore_celery


def test_a_started_worker_freezes_startup_objects_and_collects_young_ones_less_often():
    threshold = gc.get_threshold()
    try:
        signals.worker_ready.send(sender=None)

        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == scendcore_celery.GC_THRESHOLD != threshold
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_pool_children_settle_the_same_way():
    threshold = gc.get_threshold()
    try:
        signals.worker_process_init.send(sender=None)

        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == scendcore_celery.GC_THRESHOLD
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
