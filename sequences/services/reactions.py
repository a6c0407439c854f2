"""What happens to outreach when a contact does something that must stop or pause it.

Set-based on purpose: a bulk "mark do-not-contact" over thousands of contacts must be
one transaction with a handful of statements, not a loop of saves.
"""
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..lifecycle import activity_build
from ..models import Activity, ActivityKind, Enrollment, EnrollmentStatus, WaitingOn

UNSENT_STATES = ("draft", "pending_approval", "approved", "queued")
PAUSE_REASONS = {"replied": "replied", "meeting_booked": "meeting booked"}


def pending_work_cancel(*, tenant=None, enrollment_ids=None, contact_ids=None, reason, at, skip_tasks):
    """Cancel unsent messages and pending approvals of these enrollments or contacts;
    with `skip_tasks`, skip their open tasks too. Returns the number of messages cancelled.

    `tenant` scopes the statements. The processor leaves it out: its batch spans tenants
    and it passes only ids of enrollment rows it holds locked, so the ids are the scope.
    A reply or meeting pause keeps open tasks (`skip_tasks=False`): the enrollment may be
    waiting on one and goes on waiting on it once resumed."""
    from approvals.models import ApprovalRequest, ApprovalStatus
    from messaging.models import OutboundMessage, Task, TaskStatus

    if enrollment_ids is None and contact_ids is None:
        raise ValueError("pending_work_cancel needs enrollment_ids or contact_ids")
    if enrollment_ids is not None and not enrollment_ids:
        return 0
    messages = OutboundMessage.objects.filter(state__in=UNSENT_STATES)
    approvals = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)
    tasks = Task.objects.filter(status=TaskStatus.OPEN)
    if tenant is not None:
        messages, approvals, tasks = (qs.filter(tenant=tenant) for qs in (messages, approvals, tasks))
    if enrollment_ids is not None:
        messages, approvals, tasks = (
            qs.filter(enrollment_id__in=enrollment_ids) for qs in (messages, approvals, tasks)
        )
    if contact_ids is not None:
        messages = messages.filter(contact_id__in=contact_ids)
        approvals = approvals.filter(message__contact_id__in=contact_ids)
        tasks = tasks.filter(contact_id__in=contact_ids)
    # Approvals first: their filter joins messages whose state we are about to change.
    approvals.update(status=ApprovalStatus.CANCELLED, blocked_reason=reason[:200], decided_at=at)
    cancelled = messages.update(state="cancelled", error=f"Cancelled: {reason}", updated_at=at)
    if skip_tasks:
        tasks.update(status=TaskStatus.SKIPPED, outcome_note=f"Skipped: {reason}", completed_at=at)
    return cancelled


@transaction.atomic
def outreach_stop(*, tenant, contact_ids, reason, actor=None, at=None):
    """Stop everything for these contacts across every sequence of the tenant: open
    enrollments exit with `reason`, unsent messages and pending approvals are
    cancelled, open tasks are skipped. Returns the number of enrollments ended."""
    at = at or timezone.now()
    contact_ids = list(contact_ids)
    open_enrollments = list(
        Enrollment.objects.select_for_update()
        .filter(tenant=tenant, contact_id__in=contact_ids,
                status__in=[EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED])
    )
    ids = [e.pk for e in open_enrollments]
    if ids:
        Enrollment.objects.filter(pk__in=ids).update(
            status=EnrollmentStatus.UNENROLLED, exit_reason=reason[:64], next_run_at=None,
            waiting_on=WaitingOn.NOTHING, finished_at=at, lease_owner="", lease_expires_at=None,
            updated_at=at,
        )
        Activity.objects.bulk_create(
            activity_build(enrollment=e, kind=ActivityKind.EXITED, detail=reason, actor=actor, at=at)
            for e in open_enrollments
        )
    pending_work_cancel(tenant=tenant, contact_ids=contact_ids, reason=reason, at=at, skip_tasks=True)
    return len(ids)


@transaction.atomic
def contact_event_pause(*, tenant, contact_id, kind, at=None, actor=None):
    """A reply or a booked meeting pauses the contact's active enrollments in sequences
    that stop on that event, and cancels their drafts not yet sent."""
    at = at or timezone.now()
    reason = PAUSE_REASONS[kind]
    stop_field = "sequence__stop_on_reply" if kind == "replied" else "sequence__stop_on_meeting"
    enrollments = list(
        Enrollment.objects.select_for_update()
        .filter(tenant=tenant, contact_id=contact_id, status=EnrollmentStatus.ACTIVE, **{stop_field: True})
    )
    ids = [e.pk for e in enrollments]
    if not ids:
        return 0
    Enrollment.objects.filter(pk__in=ids).update(
        status=EnrollmentStatus.PAUSED, pause_reason=reason, lease_owner="", lease_expires_at=None,
        updated_at=at,
    )
    Activity.objects.bulk_create(
        activity_build(enrollment=e, kind=ActivityKind.PAUSED, detail=reason, actor=actor, at=at)
        for e in enrollments
    )
    pending_work_cancel(tenant=tenant, enrollment_ids=ids, reason=reason, at=at, skip_tasks=False)
    # The draft they waited on is cancelled: re-arm the step for a fresh pass (a new
    # idempotency key), due as soon as the enrollment is resumed. Otherwise a resumed
    # enrollment would wait forever for an approval that no longer exists. A stale
    # agent job or approval of the old pass finds the pass changed and sends nothing.
    Enrollment.objects.filter(pk__in=ids, waiting_on__in=[WaitingOn.APPROVAL, WaitingOn.AGENT]).update(
        step_pass=F("step_pass") + 1, waiting_on=WaitingOn.NOTHING, next_run_at=at,
    )
    return len(ids)

