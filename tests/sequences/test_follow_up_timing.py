"""A follow-up's delay counts from when the previous message was actually sent, not from
when it was approved or queued: delivery can hold an approved message for days (the
frequency cap, a mailbox's limits, a send window), and the follow-up must not arrive
right behind it."""
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.services import approval_approve
from messaging.models import OutboundMessage
from sequences.engine.explain import enrollment_explain
from sequences.models import Activity
from sequences.scheduling import next_run_at

from .engine_helpers import due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(tenant, manager):
    """Step 1 drafted at t0 and approved an hour later; step 2 follows 1 day after step 1."""
    tenant.frequency_cap_messages = 0  # no cap: this is about the step's own delay
    tenant.save()
    sequence, (first, second) = running_sequence(tenant, steps=2, autonomy="review_all", delay_days=1)
    t0 = timezone.now()
    enrollment = due_enrollment(sequence, first, at=t0)
    sweep_inline(now=t0)
    approval = ApprovalRequest.objects.get(enrollment=enrollment)
    approved_at = t0 + timedelta(hours=1)
    approval_approve(tenant=tenant, approval=approval, actor=manager, at=approved_at)
    enrollment.refresh_from_db()
    assert enrollment.current_step == second
    message = OutboundMessage.objects.get(enrollment=enrollment, step=first)
    return enrollment, message, second, approved_at


def _when(step, after, enrollment):
    return next_run_at(step=step, after=after, contact=enrollment.contact, tenant=enrollment.tenant)


def test_a_follow_up_waits_its_delay_after_the_previous_message_was_actually_sent(approved):
    enrollment, message, second, approved_at = approved
    sent_at = approved_at + timedelta(days=2)  # delivery held it two days
    OutboundMessage.objects.filter(pk=message.pk).update(state="sent", sent_at=sent_at)
    due_by_approval = approved_at + timedelta(days=1, minutes=1)

    sweep_inline(now=due_by_approval)

    enrollment.refresh_from_db()
    assert not OutboundMessage.objects.filter(enrollment=enrollment, step=second).exists()
    assert enrollment.next_run_at == _when(second, sent_at, enrollment)
    deferred = Activity.objects.filter(enrollment=enrollment, kind="deferred").latest("id")
    assert "previous message was sent" in deferred.detail

    sweep_inline(now=enrollment.next_run_at + timedelta(seconds=1))
    assert OutboundMessage.objects.filter(enrollment=enrollment, step=second).exists()


def test_a_follow_up_waits_while_the_previous_message_is_still_unsent(approved):
    enrollment, message, second, approved_at = approved
    OutboundMessage.objects.filter(pk=message.pk).update(state="queued", sent_at=None)
    due_by_approval = approved_at + timedelta(days=1, minutes=1)

    sweep_inline(now=due_by_approval)

    enrollment.refresh_from_db()
    assert not OutboundMessage.objects.filter(enrollment=enrollment, step=second).exists()
    assert enrollment.next_run_at > due_by_approval
    assert "not been sent yet" in Activity.objects.filter(enrollment=enrollment, kind="deferred").latest("id").detail
    explanation = enrollment_explain(tenant=enrollment.tenant, enrollment=enrollment, now=due_by_approval)
    assert any(h.kind == "after_sent" and h.active and "not been sent yet" in h.text for h in explanation.holds)


def test_a_message_sent_right_after_it_was_queued_does_not_hold_the_follow_up(approved):
    enrollment, message, second, approved_at = approved
    OutboundMessage.objects.filter(pk=message.pk).update(state="sent", sent_at=approved_at + timedelta(seconds=5))

    sweep_inline(now=approved_at + timedelta(days=1, minutes=1))

    assert OutboundMessage.objects.filter(enrollment=enrollment, step=second).exists()
