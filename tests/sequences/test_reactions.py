"""Stopping and pausing outreach when a contact unsubscribes, bounces or replies."""
import pytest

from approvals.models import ApprovalRequest
from messaging.models import OutboundMessage, Task
from sequences.models import Activity, Enrollment
from sequences.services.reactions import contact_event_pause, outreach_stop, pending_work_cancel
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


def _pending_message(enrollment, state="queued", n=1):
    return OutboundMessage.objects.create(
        tenant=enrollment.tenant, enrollment=enrollment, contact=enrollment.contact,
        idempotency_key=f"{enrollment.pk}:{n}:1", to_address=enrollment.contact.email, state=state,
    )


def test_outreach_stop_ends_every_open_enrollment_and_cancels_unsent_work(tenant, other_tenant):
    contact = ContactFactory(tenant=tenant)
    first = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant), contact=contact)
    second = EnrollmentFactory(
        tenant=tenant, sequence=SequenceFactory(tenant=tenant), contact=contact, status="paused"
    )
    queued = _pending_message(first, "queued")
    awaiting = _pending_message(second, "pending_approval")
    approval = ApprovalRequest.objects.create(tenant=tenant, message=awaiting, enrollment=second)
    sent = _pending_message(first, "sent", n=2)
    task = Task.objects.create(
        tenant=tenant, idempotency_key="t1", contact=contact, enrollment=first, title="Call"
    )
    outsider_enrollment = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))

    ended = outreach_stop(tenant=tenant, contact_ids=[contact.pk], reason="unsubscribed")

    assert ended == 2
    for enrollment in (first, second):
        enrollment.refresh_from_db()
        assert enrollment.status == "unenrolled"
        assert enrollment.exit_reason == "unsubscribed"
        assert enrollment.next_run_at is None
        assert Activity.objects.filter(enrollment=enrollment, kind="exited").exists()
    queued.refresh_from_db(); awaiting.refresh_from_db(); sent.refresh_from_db()
    approval.refresh_from_db(); task.refresh_from_db()
    assert (queued.state, awaiting.state, sent.state) == ("cancelled", "cancelled", "sent")
    assert approval.status == "cancelled"
    assert task.status == "skipped"
    outsider_enrollment.refresh_from_db()
    assert outsider_enrollment.status == "active"


def test_outreach_stop_ignores_another_tenants_contact_ids(tenant, other_tenant):
    theirs = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))

    assert outreach_stop(tenant=tenant, contact_ids=[theirs.contact_id], reason="do-not-contact") == 0

    theirs.refresh_from_db()
    assert theirs.status == "active"


def test_a_reply_pauses_only_sequences_that_stop_on_reply(tenant):
    contact = ContactFactory(tenant=tenant)
    stops = EnrollmentFactory(tenant=tenant, contact=contact, sequence=SequenceFactory(tenant=tenant))
    keeps_going = EnrollmentFactory(
        tenant=tenant, contact=contact, sequence=SequenceFactory(tenant=tenant, stop_on_reply=False)
    )
    draft = _pending_message(stops, "pending_approval")
    other_draft = _pending_message(keeps_going, "queued")

    paused = contact_event_pause(tenant=tenant, contact_id=contact.pk, kind="replied")

    assert paused == 1
    stops.refresh_from_db(); keeps_going.refresh_from_db(); draft.refresh_from_db(); other_draft.refresh_from_db()
    assert (stops.status, stops.pause_reason) == ("paused", "replied")
    assert keeps_going.status == "active"
    assert draft.state == "cancelled"
    assert other_draft.state == "queued"


def test_a_booked_meeting_pauses_with_its_own_reason(tenant):
    enrollment = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant))
    StepFactory(sequence=enrollment.sequence)

    contact_event_pause(tenant=tenant, contact_id=enrollment.contact_id, kind="meeting_booked")

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.pause_reason) == ("paused", "meeting booked")
    assert Enrollment.objects.filter(pk=enrollment.pk, activities__kind="paused").exists()


def test_a_reply_pause_keeps_the_open_task_the_enrollment_waits_on(tenant):
    enrollment = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant), waiting_on="task")
    task = Task.objects.create(
        tenant=tenant, idempotency_key="t1", contact=enrollment.contact, enrollment=enrollment, title="Call"
    )

    contact_event_pause(tenant=tenant, contact_id=enrollment.contact_id, kind="replied")

    task.refresh_from_db()
    assert task.status == "open"


def test_pending_work_cancel_without_tenant_is_scoped_by_enrollment_ids(tenant, other_tenant):
    """The processor's call: a batch spans tenants, the locked ids are the scope."""
    mine = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant))
    theirs = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))
    untouched = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant))
    messages = [_pending_message(e) for e in (mine, theirs, untouched)]
    task = Task.objects.create(tenant=other_tenant, idempotency_key="t1", contact=theirs.contact,
                               enrollment=theirs, title="Call")

    cancelled = pending_work_cancel(enrollment_ids=[mine.pk, theirs.pk], reason="bounced", at=mine.enrolled_at,
                                    skip_tasks=True)

    assert cancelled == 2
    assert [m.state for m in OutboundMessage.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk")] == [
        "cancelled", "cancelled", "queued"]
    task.refresh_from_db()
    assert (task.status, task.outcome_note) == ("skipped", "Skipped: bounced")
    with pytest.raises(ValueError):
        pending_work_cancel(reason="bounced", at=mine.enrolled_at, skip_tasks=True)


def test_a_reply_while_a_draft_awaits_approval_does_not_strand_the_enrollment(tenant):
    from django.db import transaction
    from django.utils import timezone

    from sequences.flow import store, transitions

    sequence = SequenceFactory(tenant=tenant)
    step = StepFactory(sequence=sequence)
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, current_step=step,
                                   waiting_on="approval", next_run_at=None)
    draft = _pending_message(enrollment, "pending_approval")
    approval = ApprovalRequest.objects.create(tenant=tenant, message=draft, enrollment=enrollment)

    contact_event_pause(tenant=tenant, contact_id=enrollment.contact_id, kind="replied")
    enrollment.refresh_from_db()
    approval.refresh_from_db()
    assert approval.status == "cancelled"
    assert (enrollment.status, enrollment.waiting_on, enrollment.step_pass) == ("paused", "", 2)

    resumed_at = timezone.now()
    with transaction.atomic():
        row = store.locked(enrollment.pk, tenant_id=tenant.pk)
        store.save(row, transitions.resume(row, at=resumed_at), at=resumed_at)
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert enrollment.next_run_at == resumed_at  # due again: the step is drafted anew, not lost
