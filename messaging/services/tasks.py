"""Task and call-reminder steps: the task rows (the processor creates them set-based; a
rep finishes one through sequences.services.tasks)."""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Task


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
