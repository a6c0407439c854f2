"""The enrollment state machine, shared by enrollment, the processor, approvals and
tasks. Each function changes one enrollment and writes its activity row (DESIGN
invariant 6). Callers own the transaction and have the enrollment row locked
(select_for_update) when they act concurrently with the processor."""
from django.db import transaction
from django.utils import timezone

from .models import Activity, ActivityKind, Enrollment, EnrollmentStatus, Step, WaitingOn
from .scheduling import next_run_at


def activity_build(*, enrollment, kind, detail="", step=None, actor=None, data=None, at=None):
    """An unsaved Activity row (for bulk_create in batch paths)."""
    return Activity(
        tenant_id=enrollment.tenant_id,
        enrollment=enrollment,
        contact_id=enrollment.contact_id,
        sequence_id=enrollment.sequence_id,
        step=step,
        kind=kind,
        detail=detail[:300],
        data=data or {},
        actor=actor,
        created_at=at or timezone.now(),
    )


def activity_record(**kwargs):
    activity = activity_build(**kwargs)
    activity.save()
    return activity


def jitter_seed(enrollment, step):
    return f"{enrollment.pk}:{step.pk}:{enrollment.step_pass}"


def schedule_step(*, enrollment, step, after, actor=None, kind=ActivityKind.STEP_SCHEDULED):
    """Point the enrollment at `step`, due after its delay from `after`."""
    enrollment.current_step = step
    enrollment.step_pass = 1
    enrollment.waiting_on = WaitingOn.NOTHING
    enrollment.next_run_at = next_run_at(
        step=step, after=after, contact=enrollment.contact, tenant=enrollment.sequence.tenant,
        seed=jitter_seed(enrollment, step),
    )
    enrollment.save(update_fields=["current_step", "step_pass", "waiting_on", "next_run_at", "updated_at"])
    activity_record(
        enrollment=enrollment, kind=kind, step=step, actor=actor,
        detail=f"Step {step.order} ({step.get_channel_display()}) due {enrollment.next_run_at:%Y-%m-%d %H:%M} UTC",
        data={"next_run_at": enrollment.next_run_at.isoformat()},
    )


def next_step_after(step_or_none, sequence):
    steps = Step.objects.filter(sequence=sequence).order_by("order")
    if step_or_none is not None:
        steps = steps.filter(order__gt=step_or_none.order)
    return steps.first()


def advance(*, enrollment, at=None, actor=None):
    """The current step is done: schedule the next one, or complete the enrollment."""
    at = at or timezone.now()
    enrollment.last_step_at = at
    enrollment.save(update_fields=["last_step_at", "updated_at"])
    following = next_step_after(enrollment.current_step, enrollment.sequence)
    if following is None:
        complete(enrollment=enrollment, at=at)
    else:
        schedule_step(enrollment=enrollment, step=following, after=at, actor=actor)


def step_completed(*, enrollment, at=None, actor=None, detail=""):
    at = at or timezone.now()
    activity_record(
        enrollment=enrollment, kind=ActivityKind.STEP_EXECUTED, step=enrollment.current_step,
        actor=actor, detail=detail or "Step completed", at=at,
    )
    advance(enrollment=enrollment, at=at, actor=actor)


def step_skipped(*, enrollment, reason, at=None, actor=None):
    at = at or timezone.now()
    activity_record(
        enrollment=enrollment, kind=ActivityKind.STEP_SKIPPED, step=enrollment.current_step,
        actor=actor, detail=reason, at=at,
    )
    advance(enrollment=enrollment, at=at, actor=actor)


def wait_for(*, enrollment, on, detail=""):
    """The step's work exists but is not finished (drafting, approval, task)."""
    enrollment.waiting_on = on
    enrollment.next_run_at = None
    enrollment.save(update_fields=["waiting_on", "next_run_at", "updated_at"])
    activity_record(
        enrollment=enrollment, kind=ActivityKind.WAITING, step=enrollment.current_step,
        detail=detail or WaitingOn(on).label,
    )


def complete(*, enrollment, at=None):
    at = at or timezone.now()
    enrollment.status = EnrollmentStatus.COMPLETED
    enrollment.next_run_at = None
    enrollment.waiting_on = WaitingOn.NOTHING
    enrollment.finished_at = at
    enrollment.save(update_fields=["status", "next_run_at", "waiting_on", "finished_at", "updated_at"])
    activity_record(enrollment=enrollment, kind=ActivityKind.COMPLETED, detail="Finished all steps", at=at)


def pause(*, enrollment, reason, actor=None):
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return False
    enrollment.status = EnrollmentStatus.PAUSED
    enrollment.pause_reason = reason
    enrollment.save(update_fields=["status", "pause_reason", "updated_at"])
    activity_record(enrollment=enrollment, kind=ActivityKind.PAUSED, detail=reason, actor=actor)
    return True


def resume(*, enrollment, actor=None, at=None):
    """Continue where the enrollment was. A step that fell due while paused is due now,
    not in a burst of all missed steps: only the current step is pending."""
    if enrollment.status != EnrollmentStatus.PAUSED:
        return False
    at = at or timezone.now()
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.pause_reason = ""
    if enrollment.waiting_on == WaitingOn.NOTHING and enrollment.current_step_id:
        if enrollment.next_run_at is None or enrollment.next_run_at < at:
            enrollment.next_run_at = at
    enrollment.save(update_fields=["status", "pause_reason", "next_run_at", "updated_at"])
    activity_record(enrollment=enrollment, kind=ActivityKind.RESUMED, actor=actor, at=at)
    return True


def exit_enrollment(*, enrollment, reason, actor=None, at=None):
    """Stop for good (unenrolled, with why). Pending work of the step is the caller's
    to cancel (messages in approval or queue: see messaging/approvals services)."""
    if enrollment.status in (EnrollmentStatus.COMPLETED, EnrollmentStatus.UNENROLLED):
        return False
    at = at or timezone.now()
    enrollment.status = EnrollmentStatus.UNENROLLED
    enrollment.exit_reason = reason
    enrollment.next_run_at = None
    enrollment.waiting_on = WaitingOn.NOTHING
    enrollment.finished_at = at
    enrollment.save(
        update_fields=["status", "exit_reason", "next_run_at", "waiting_on", "finished_at", "updated_at"]
    )
    activity_record(enrollment=enrollment, kind=ActivityKind.EXITED, detail=reason, actor=actor, at=at)
    return True


def locked(enrollment_id, *, tenant_id):
    """The enrollment row, locked for this transaction, scoped to its tenant."""
    assert transaction.get_connection().in_atomic_block, "lock inside a transaction"
    return (
        # Lock only the enrollment row: current_step is a nullable join, which
        # PostgreSQL refuses to lock ("nullable side of an outer join").
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("sequence", "sequence__tenant", "sequence__agent", "contact", "current_step")
        .get(pk=enrollment_id, tenant_id=tenant_id)
    )


def kick_processor():
    """Ask for a sweep right after commit, so a zero-delay step or an approval does not
    wait a whole beat interval. Safe to call often: a sweep with nothing due is cheap."""
    from . import tasks  # the processor's entry points

    transaction.on_commit(lambda: tasks.sweep.delay())
