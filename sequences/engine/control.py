"""Sequence-level control for the processor.

Pausing a sequence needs nothing here: the worker leaves the enrollments of a paused
sequence untouched (parked, next_run_at kept). Resuming continues each enrollment from
where it was — but steps that fell due while the sequence was paused are spread out
from now instead of all firing in the next sweep, unless the user asks to send them now.
"""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from scendcore import jobs

from ..flow import store, transitions, wording
from ..flow.transitions import PARKED
from ..models import EnrollmentStatus, WaitingOn
from ..scheduling import defer_into_window

# Overdue steps are spaced this far apart, and spread over at most MAX_SPREAD in total.
STAGGER = timedelta(seconds=20)
MAX_SPREAD = timedelta(hours=2)


@transaction.atomic
def sequence_resume_schedule(*, tenant, sequence, actor, send_overdue_now=False, now=None):
    """Reschedule the sequence's overdue enrollments on resume and release those the
    processor parked while it was paused. The caller (sequence_resume) sets the sequence
    active in the same transaction. Returns how many steps were rescheduled."""
    now = now or timezone.now()
    rows = [
        e for e in store.locked_many(tenant=tenant, status=[EnrollmentStatus.ACTIVE], sequence=sequence,
                                     waiting_on=WaitingOn.NOTHING, next_run_at__isnull=False,
                                     lease_owner__in=["", PARKED])
    ]
    rows.sort(key=lambda e: (-e.priority, e.next_run_at, e.pk))
    overdue = [e for e in rows if e.next_run_at < now]
    spacing = STAGGER if len(overdue) * STAGGER <= MAX_SPREAD else MAX_SPREAD / max(len(overdue), 1)
    activities = []
    for position, e in enumerate(overdue):
        if send_overdue_now:
            when, detail = now, "Sequence resumed: overdue step sent now"
        else:
            when = now + spacing * position
            if e.current_step:
                when = defer_into_window(when=when, step=e.current_step, contact=e.contact, tenant=tenant)
            detail = f"Sequence resumed: overdue step rescheduled to {wording.local(when, wording.zone_of(e))}"
        activities += transitions.reschedule(e, when, at=now, detail=detail, actor=actor, data={"resumed": True})
    for e in rows:
        e.lease_owner, e.lease_expires_at = "", None  # parked rows are free again
    store.save_batch(rows, activities, at=now)
    if rows:
        jobs.start("sequences.sweep")
    return len(overdue)
