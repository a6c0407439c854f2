"""Task and call-reminder steps: created by the processor, finished by a person."""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Task, TaskStatus


def task_key(*, enrollment, step, step_pass):
    return f"{enrollment.pk}:{step.pk}:{step_pass}"


def task_create(*, tenant, enrollment, step, step_pass, owner, contact, kind, title, talking_points="", due_at=None):
    """The task for (enrollment, step, pass); a repeated call returns the same row."""
    key = task_key(enrollment=enrollment, step=step, step_pass=step_pass)
    defaults = dict(
        tenant=tenant, enrollment=enrollment, step=step, step_pass=step_pass, owner=owner,
        contact=contact, kind=kind, title=title[:300], talking_points=talking_points,
        due_at=due_at or timezone.now(),
    )
    try:
        with transaction.atomic():
            task, _ = Task.objects.get_or_create(idempotency_key=key, defaults=defaults)
    except IntegrityError:  # created by a concurrent run between the get and the insert
        task = Task.objects.get(idempotency_key=key)
    if task.tenant_id != tenant.pk:
        raise ValidationError("Task key collision across workspaces.")
    return task


def _finish(*, tenant, task, actor, status, note, at):
    from sequences import lifecycle
    from sequences.models import EnrollmentStatus

    at = at or timezone.now()
    with transaction.atomic():
        task = Task.objects.select_for_update().get(pk=task.pk, tenant=tenant)
        if task.status != TaskStatus.OPEN:
            raise ValidationError(f"This task is already {task.get_status_display().lower()}.")
        task.status, task.outcome_note = status, note
        task.completed_at, task.completed_by = at, actor
        task.save(update_fields=["status", "outcome_note", "completed_at", "completed_by"])
        if task.enrollment_id:
            enrollment = lifecycle.locked(task.enrollment_id, tenant_id=tenant.pk)
            # Only the step this task belongs to advances; a stale task (the enrollment
            # moved on, was re-run or ended) just closes.
            if (
                enrollment.status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
                and enrollment.current_step_id == task.step_id
                and enrollment.step_pass == task.step_pass
            ):
                if status == TaskStatus.COMPLETED:
                    detail = f"Task completed: {note}" if note else "Task completed"
                    lifecycle.step_completed(enrollment=enrollment, at=at, actor=actor, detail=detail[:300])
                else:
                    reason = f"Task skipped: {note}" if note else "Task skipped"
                    lifecycle.step_skipped(enrollment=enrollment, reason=reason[:300], at=at, actor=actor)
                lifecycle.kick_processor()
    return task


def task_complete(*, tenant, task, actor, outcome_note="", at=None):
    return _finish(tenant=tenant, task=task, actor=actor, status=TaskStatus.COMPLETED, note=outcome_note.strip(), at=at)


def task_skip(*, tenant, task, actor, reason="", at=None):
    return _finish(tenant=tenant, task=task, actor=actor, status=TaskStatus.SKIPPED, note=reason.strip(), at=at)
