"""Pending approvals built through the real services, for tests that need a queue
before the processor has run anything."""
import itertools

from django.db import transaction

from approvals.routing import approval_request_create
from messaging.models import OutboundMessage
from sequences.flow import single, store
from sequences.models import WaitingOn
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

_keys = itertools.count(1)


def drafted_message(*, tenant, sequence=None, step=None, contact=None, channel="email",
                    subject="Idea for Globex", body="Hi Dana,\n\nA short note.\n\nBest,\nSam", **step_fields):
    sequence = sequence or (step.sequence if step else SequenceFactory(tenant=tenant))
    step = step or StepFactory(sequence=sequence, channel=channel, **step_fields)
    contact = contact or ContactFactory(tenant=tenant)
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=contact, current_step=step)
    message = OutboundMessage.objects.create(
        tenant=tenant, idempotency_key=f"test:{enrollment.pk}:{step.pk}:1:{next(_keys)}",
        enrollment=enrollment, step=step, step_pass=1, contact=contact, channel=channel,
        to_address=contact.email, subject=subject, body_text=body, state="draft",
    )
    return message


def pending_approval(*, tenant, reasons=("agent is set to review every draft",), **kwargs):
    message = drafted_message(tenant=tenant, **kwargs)
    with transaction.atomic():
        enrollment = store.locked(message.enrollment_id, tenant_id=tenant.pk)
        approval = approval_request_create(tenant=tenant, message=message, enrollment=enrollment, reasons=list(reasons))
        single.wait(enrollment, WaitingOn.APPROVAL, at=approval.created_at)
    return approval
