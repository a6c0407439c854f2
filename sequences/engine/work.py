"""Step 3–5 for the enrollments that passed every gate: create the step's work exactly
once, draft, route by autonomy, advance. What a step of each kind does is its step type
(engine.steps); this module holds what they share.

Exactly once: every piece of work carries the key "enrollment:step:pass". Work that
already exists for a key (a repeated execution) is found first and followed, never
created again. The enrollments are locked for the whole batch, so what was found missing
stays missing until commit; the unique indexes are the last line of defence (see
scendcore.bulk).
"""
import functools
from collections import defaultdict

from scendcore import jobs
from scendcore.bulk import RowShape


def key_of(e):
    return f"{e.id}:{e.current_step_id}:{e.step_pass}"


class StepWork:
    """What the step types of one batch share: the batch (to move enrollments on), its
    `now`, and reading threads and drafting."""

    def __init__(self, *, batch):
        self.batch = batch
        self.now = batch.now

    def threads(self, enrollments):
        """enrollment id -> its sent messages, oldest first (what a follow-up refers to)."""
        from messaging.models import OutboundMessage

        threads = defaultdict(list)
        rows = (
            OutboundMessage.objects.filter(enrollment_id__any=[e.id for e in enrollments], state="sent")
            .only("id", "enrollment_id", "subject", "body_text", "sent_at", "created_at", "channel")
            .order_by("sent_at", "created_at", "id")
        )
        for message in rows:
            threads[message.enrollment_id].append(message)
        return threads

    def draft(self, e, agent, thread):
        from agents.drafting import DraftRequest, draft

        request = DraftRequest(
            agent=agent, tenant=e.sequence.tenant, contact=e.contact, step=e.current_step,
            channel=e.current_step.channel, thread=tuple(thread),
        )
        return draft(request)


@functools.cache
def shape(model, with_pk=False):
    return RowShape(model, with_pk=with_pk)


def kick_delivery():
    """Deliver what the batch queued as soon as it commits."""
    from django.conf import settings

    if getattr(settings, "PROCESSOR_KICK_DELIVERY", True):
        jobs.start("messaging.deliver_due")
