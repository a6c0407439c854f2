"""Sequence-level control for the processor.

Pausing a sequence needs nothing here: the worker leaves the enrollments of a paused
sequence untouched (parked, next_run_at kept). Resuming continues each enrollment from
where it was — but steps that fell due while the sequence was paused are spread out
from now instead of all firing in the next sweep, unless the user asks to send them now.
"""
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from .. import lifecycle
from ..models import Activity, ActivityKind, Enrollment, EnrollmentStatus, WaitingOn
from ..scheduling import contact_zone, defer_into_window
from . import writes
from .sweep import PARKED

# Overdue steps are spaced this far apart, and spread over at most MAX_SPREAD in total.
STAGGER = timedelta(seconds=20)
MAX_SPREAD = timedelta(hours=2)


@transaction.atomic
def sequence_resume_schedule(*, tenant, sequence, actor, send_overdue_now=False, now=None):
    """Reschedule the sequence's overdue enrollments on resume and release those the
    processor parked while it was paused. The caller (sequence_resume) sets the sequence
    active in the same transaction. Returns how many steps were rescheduled."""
    now = now or timezone.now()
    rows = list(
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("contact", "current_step")
        .filter(tenant=tenant, sequence=sequence, status=EnrollmentStatus.ACTIVE,
                waiting_on=WaitingOn.NOTHING, next_run_at__isnull=False, lease_owner__in=["", PARKED])
        .order_by("-priority", "next_run_at", "pk")
    )
    overdue = [e for e in rows if e.next_run_at < now]
    spacing = STAGGER if len(overdue) * STAGGER <= MAX_SPREAD else MAX_SPREAD / max(len(overdue), 1)
    activities = []
    for position, e in enumerate(overdue):
        if send_overdue_now:
            e.next_run_at = now
            detail = "Sequence resumed: overdue step sent now"
        else:
            e.next_run_at = defer_into_window(
                when=now + spacing * position, step=e.current_step, contact=e.contact, tenant=tenant
            ) if e.current_step else now + spacing * position
            zone = contact_zone(e.contact, tenant)
            detail = f"Sequence resumed: overdue step rescheduled to {e.next_run_at.astimezone(zone):%a %Y-%m-%d %H:%M} {zone.key}"
        activities.append(lifecycle.activity_build(
            enrollment=e, kind=ActivityKind.STEP_SCHEDULED, step=e.current_step, actor=actor, at=now,
            detail=detail, data={"next_run_at": e.next_run_at.isoformat(), "resumed": True},
        ))
    _write(rows, at=now)
    Activity.objects.bulk_create(activities, batch_size=2000)
    if rows:
        lifecycle.kick_processor()
    return len(overdue)


def _write(rows, *, at):
    for e in rows:
        e.lease_owner, e.lease_expires_at = "", None
    if connection.vendor != "postgresql":
        for e in rows:
            Enrollment.objects.filter(pk=e.pk).update(next_run_at=e.next_run_at, lease_owner="",
                                                      lease_expires_at=None, updated_at=at)
        return
    writes.rows_update(Enrollment, rows, ("next_run_at", "lease_owner", "lease_expires_at"), also={"updated_at": at})
