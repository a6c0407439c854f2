from celery import shared_task


@shared_task(name="sequences.sweep", ignore_result=True)
def sweep():
    """Claim due enrollments and hand them to workers (see sequences/engine)."""
    from .engine import sweep as engine_sweep

    engine_sweep.run()
