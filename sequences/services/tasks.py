"""A rep finishes the task of a task or call step: the enrollment waiting on it moves on."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from messaging.models import Task, TaskStatus

from ..flow import single, store, transitions


def _finish(*, tenant, task, actor, status, note, at):
    at = at or timezone.now()
    with transaction.atomic():
        enrollment_id = Task.objects.filter(pk=task.pk, tenant=tenant).values_list("enrollment_id", flat=True).first()
        # The enrollment first, then the task: the processor's lock order.
        enrollment = store.locked(enrollment_id, tenant_id=tenant.pk) if enrollment_id else None
        task = Task.objects.select_for_update().get(pk=task.pk, tenant=tenant)
        if task.status != TaskStatus.OPEN:
            raise ValidationError(f"This task is already {task.get_status_display().lower()}.")
        task.status, task.outcome_note = status, note
        task.completed_at, task.completed_by = at, actor
        task.save(update_fields=["status", "outcome_note", "completed_at", "completed_by"])
        # Only the step this task belongs to advances; a stale task (the enrollment
        # moved on, was re-run or ended) just closes.
        if (
            enrollment is not None and enrollment.status in transitions.OPEN
            and enrollment.current_step_id == task.step_id and enrollment.step_pass == task.step_pass
        ):
            if status == TaskStatus.COMPLETED:
                detail = f"Task completed: {note}" if note else "Task completed"
                single.step_done(enrollment, at=at, actor=actor, executed=detail[:300])
            else:
                reason = f"Task skipped: {note}" if note else "Task skipped"
                single.step_done(enrollment, at=at, actor=actor, skipped=reason[:300])
    return task


def task_complete(*, tenant, task, actor, outcome_note="", at=None):
    return _finish(tenant=tenant, task=task, actor=actor, status=TaskStatus.COMPLETED, note=outcome_note.strip(), at=at)


def task_skip(*, tenant, task, actor, reason="", at=None):
    return _finish(tenant=tenant, task=task, actor=actor, status=TaskStatus.SKIPPED, note=reason.strip(), at=at)
