"""A rep finishes the task of a task or call step: the enrollment waiting on it moves on."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from messaging.models import Task, TaskStatus

from ..flow import navigator, single, store, transitions


def task_outcomes(step):
    """The outcome choices a task's node defines (Step.config["outcomes"]), in order."""
    config = getattr(step, "config", None)
    outcomes = config.get("outcomes") if isinstance(config, dict) else None
    return [str(o) for o in outcomes if isinstance(o, str) and o] if isinstance(outcomes, list) else []


def _check_outcome(task, outcome):
    if not outcome:
        return
    choices = task_outcomes(task.step)
    if not choices:
        raise ValidationError("This task has no outcomes to choose from: complete it without one.")
    if outcome not in choices:
        raise ValidationError(f"“{outcome[:100]}” is not an outcome of this task: choose "
                              + ", ".join(f"“{c}”" for c in choices) + ".")


def _finish(*, tenant, task, actor, status, note, at, outcome=""):
    at = at or timezone.now()
    with transaction.atomic():
        enrollment_id = Task.objects.filter(pk=task.pk, tenant=tenant).values_list("enrollment_id", flat=True).first()
        # The enrollment first, then the task: the processor's lock order.
        enrollment = store.locked(enrollment_id, tenant_id=tenant.pk) if enrollment_id else None
        task = Task.objects.select_for_update(of=("self",)).select_related("step").get(pk=task.pk, tenant=tenant)
        if task.status != TaskStatus.OPEN:
            raise ValidationError(f"This task is already {task.get_status_display().lower()}.")
        _check_outcome(task, outcome)
        task.status, task.outcome_note, task.outcome = status, note, outcome
        task.completed_at, task.completed_by = at, actor
        task.save(update_fields=["status", "outcome_note", "outcome", "completed_at", "completed_by"])
        # Only the step this task belongs to advances; a stale task (the enrollment
        # moved on, was re-run or ended) just closes.
        if (
            enrollment is not None and enrollment.status in transitions.OPEN
            and enrollment.current_step_id == task.step_id and enrollment.step_pass == task.step_pass
        ):
            if status == TaskStatus.COMPLETED:
                detail = f"Task completed with outcome “{outcome}”" if outcome else "Task completed"
                detail += f": {note}" if note else ""
                # The outcome's own path; a node without one for it goes on by "next".
                single.step_done(enrollment, at=at, actor=actor, executed=detail[:300],
                                 label=outcome or navigator.NEXT)
            else:
                reason = f"Task skipped: {note}" if note else "Task skipped"
                single.step_done(enrollment, at=at, actor=actor, skipped=reason[:300])
    return task


def task_complete(*, tenant, task, actor, outcome_note="", outcome="", at=None):
    """Complete the task; with `outcome` (one of the choices its node defines) the
    enrollment follows that outcome's path."""
    return _finish(tenant=tenant, task=task, actor=actor, status=TaskStatus.COMPLETED, note=outcome_note.strip(),
                   outcome=(outcome or "").strip(), at=at)


def task_skip(*, tenant, task, actor, reason="", at=None):
    return _finish(tenant=tenant, task=task, actor=actor, status=TaskStatus.SKIPPED, note=reason.strip(), at=at)
