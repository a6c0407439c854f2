from celery import shared_task


@shared_task(name="sequences.sweep", ignore_result=True)
def sweep():
    """Beat (every PROCESSOR_INTERVAL_SECONDS) and on-commit kicks: claim due enrollments
    and hand them to `process_batch` (see sequences/engine/sweep.py)."""
    from .engine import sweep as engine_sweep

    engine_sweep.run()


@shared_task(name="sequences.process_batch", ignore_result=True)
def process_batch(enrollment_ids, lease_owner, at=None):
    """Execute the due steps of one claimed batch. The ids span tenants on purpose: each
    row is re-read under its lease owner and carries its own tenant, so a stale or
    duplicated delivery of this task finds nothing and does nothing."""
    from django.utils.dateparse import parse_datetime

    from .engine import execute

    execute.process_batch(
        enrollment_ids=enrollment_ids, lease_owner=lease_owner, now=parse_datetime(at) if at else None
    )


@shared_task(name="sequences.compact_tallies", ignore_result=True)
def compact_tallies():
    """Beat: fold the enrollment tallies' change rows (see models.EnrollmentTally)."""
    from .services.tallies import compact_tallies as compact

    compact()
