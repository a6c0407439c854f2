"""Queueing a message for delivery, and a person's decision to send one again."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scendcore import jobs

from ...models import ENQUEUEABLE_STATES, MessageState


def message_enqueue(*, message, at=None):
    """Queue `message` for delivery at `at` (now by default); delivery is kicked on
    commit, and the periodic run picks up anything due later."""
    if message.state not in ENQUEUEABLE_STATES:
        raise ValidationError(f"A {message.get_state_display().lower()} message cannot be queued.")
    now = timezone.now()
    message.state = MessageState.QUEUED
    message.queued_at = now
    message.next_attempt_at = at or now
    message.claimed_by = ""
    message.save(update_fields=["state", "queued_at", "next_attempt_at", "claimed_by", "updated_at"])
    jobs.start("messaging.deliver_due")
    return message


def message_resend(*, tenant, message, actor):
    """A person decided to try again a message that failed or whose outcome is unknown."""
    from scendcore.models import AuditEntry

    if message.state not in (MessageState.FAILED, MessageState.UNKNOWN):
        raise ValidationError("Only failed messages or messages with an unknown outcome can be resent.")
    with transaction.atomic():
        previous = message.state
        message.attempts = 0
        message.error = ""
        message.save(update_fields=["attempts", "error", "updated_at"])
        message_enqueue(message=message)
        AuditEntry.objects.create(
            tenant=tenant, actor=actor, object_type="outbound_message", object_id=str(message.pk),
            action="resend", changes={"state": [previous, "queued"]},
        )
    return message
