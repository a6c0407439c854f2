"""Writes for the approval queue. Every decision locks the enrollment and then the
approval row, checks that the request is still pending, and records an
ApprovalDecision: of two concurrent decisions exactly one wins, the other gets a clear
ApprovalConflict. What is approved is hashed onto the message, so delivery can send
exactly that."""
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from contacts.suppression import EXPLANATIONS, suppression_reason
from scendcore.tenancy import role_of
from scendcore.zones import when_text
from sequences.flow import single, store, transitions
from sequences.models import EnrollmentStatus, RejectionPolicy

from .models import ApprovalDecision, ApprovalRequest, ApprovalStatus, DecisionKind
from .routing import review_reasons, send_approved

logger = logging.getLogger(__name__)


class ApprovalConflict(Exception):
    """Someone (or something) decided this draft first."""


class ApprovalBlocked(Exception):
    """The draft may not be sent any more (contact unsubscribed, replied, …)."""


def blocked_reason_for(*, approval, message, enrollment, suppressed=None):
    """Why this draft can no longer be sent, or ''. Shown on the card and enforced on
    approve. `suppressed`: the suppression rule's answers for a page of cards (one
    query for all of them), else it is asked for this contact."""
    contact = message.contact
    reason = suppressed.get(contact.id) if suppressed is not None else suppression_reason(contact)
    if reason == "unsubscribed" and contact.unsubscribed_at:
        return f"The contact unsubscribed on {timezone.localdate(contact.unsubscribed_at):%Y-%m-%d}."
    if reason:
        return f"The contact {EXPLANATIONS[reason]}."
    if message.channel == "sms" and contact.sms_opted_out_at:
        return "The contact opted out of SMS."
    if contact.last_replied_at and contact.last_replied_at >= approval.created_at:
        return f"The contact replied {_viewer_time(contact.last_replied_at)}, after this draft was written."
    if enrollment.status == EnrollmentStatus.PAUSED:
        return f"The enrollment is paused ({enrollment.pause_reason or 'no reason given'})."
    if enrollment.status != EnrollmentStatus.ACTIVE:
        return f"The enrollment has ended ({enrollment.exit_reason or enrollment.get_status_display()})."
    if enrollment.current_step_id != message.step_id or enrollment.step_pass != message.step_pass:
        return "The enrollment has moved past this step."
    if message.state != "pending_approval":
        return f"The message is {message.get_state_display().lower()}."
    return ""


def _viewer_time(when):
    """Worded for whoever reads it now: the zone the request activated (the viewer's), and
    labelled, so text stored from a task still says which zone it is in."""
    return when_text(when, timezone.get_current_timezone())


def _decider_name(user):
    return (user.get_full_name() or user.username) if user else "the system"


def conflict_text(approval, tenant):
    # Said to the reviewer who lost the race: in their zone, which the request activated.
    when = f" at {_viewer_time(approval.decided_at)}" if approval.decided_at else ""
    who = _decider_name(approval.decided_by)
    if approval.status == ApprovalStatus.APPROVED:
        return f"Already approved by {who}{when}."
    if approval.status == ApprovalStatus.REJECTED:
        return f"Already rejected by {who}{when}."
    if approval.status == ApprovalStatus.EXPIRED:
        return f"This draft expired{when} without review."
    return f"This draft was cancelled{when}" + (f": {approval.blocked_reason}" if approval.blocked_reason else ".")


def _lock(*, tenant, approval_id):
    """(enrollment, approval, message), locked in the processor's order: enrollment first."""
    from messaging.models import OutboundMessage

    enrollment_id = (
        ApprovalRequest.objects.filter(pk=approval_id, tenant=tenant).values_list("enrollment_id", flat=True).first()
    )
    if enrollment_id is None:
        raise ApprovalRequest.DoesNotExist
    enrollment = store.locked(enrollment_id, tenant_id=tenant.pk)
    approval = (
        ApprovalRequest.objects.select_for_update(of=("self",)).select_related("decided_by")
        .get(pk=approval_id, tenant=tenant)
    )
    message = (
        OutboundMessage.objects.select_for_update(of=("self",))
        .select_related("contact", "agent_job__agent").get(pk=approval.message_id, tenant=tenant)
    )
    return enrollment, approval, message


def _pending_or_conflict(approval, tenant):
    if approval.status != ApprovalStatus.PENDING:
        raise ApprovalConflict(conflict_text(approval, tenant))


def validate_content(*, channel, subject, body):
    from agents.drafting.types import EMAIL_BODY_MAX_CHARS, SMS_MAX_CHARS, SUBJECT_MAX_CHARS

    errors = {}
    body = (body or "").replace("\r\n", "\n").strip()
    subject = " ".join((subject or "").split())
    if not body:
        errors["body"] = "The message needs a body."
    limit = SMS_MAX_CHARS if channel == "sms" else EMAIL_BODY_MAX_CHARS
    if len(body) > limit:
        errors["body"] = f"At most {limit} characters (this is {len(body)})."
    if channel == "email" and not subject:
        errors["subject"] = "An email needs a subject."
    if len(subject) > SUBJECT_MAX_CHARS:
        errors["subject"] = f"At most {SUBJECT_MAX_CHARS} characters."
    if errors:
        raise ValidationError(errors)
    return ("" if channel == "sms" else subject), body


def _agent_of(message, enrollment):
    job = message.agent_job
    return (job.agent if job and job.agent_id else None) or enrollment.sequence.agent


def approval_approve(*, tenant, approval, actor, subject=None, body=None, at=None):
    """Approve as drafted, or with the reviewer's edits when subject/body differ. Then
    delivery is queued and the enrollment moves to its next step."""
    from agents.drafting import signoff
    from agents.drafting.safety import html_from_text
    from agents.models import Agent

    at = at or timezone.now()
    with transaction.atomic():
        enrollment, approval, message = _lock(tenant=tenant, approval_id=approval.pk)
        _pending_or_conflict(approval, tenant)
        blocked = blocked_reason_for(approval=approval, message=message, enrollment=enrollment)
        if blocked:
            raise ApprovalBlocked(blocked)
        before = (message.subject, message.body_text)
        edited = False
        if subject is not None or body is not None:
            new = validate_content(
                channel=message.channel,
                subject=message.subject if subject is None else subject,
                body=message.body_text if body is None else body,
            )
            edited = new != before
            if edited:
                message.subject, message.body_text = new
                message.body_html = html_from_text(message.body_text) if message.channel == "email" else ""
                # A reviewer who removes or rewrites the persona's sign-off changes who signs.
                message.signed_by = (signoff.signer(_agent_of(message, enrollment), message.body_text)
                                     if message.channel == "email" else "")
        digest = send_approved(
            message=message, enrollment=enrollment, at=at, actor=actor,
            detail=f"Draft {'edited and ' if edited else ''}approved by {_decider_name(actor)}",
        )
        approval.status = ApprovalStatus.APPROVED
        approval.decided_at = at
        approval.decided_by = actor
        approval.blocked_reason = ""
        approval.save(update_fields=["status", "decided_at", "decided_by", "blocked_reason"])
        ApprovalDecision.objects.create(
            tenant=tenant, request=approval, actor=actor, created_at=at,
            kind=DecisionKind.EDITED_APPROVED if edited else DecisionKind.APPROVED,
            subject_before=before[0], body_before=before[1],
            subject_after=message.subject, body_after=message.body_text, content_hash=digest,
        )
        agent = _agent_of(message, enrollment)
        if agent is not None and not edited:
            Agent.objects.filter(pk=agent.pk).update(approved_drafts=F("approved_drafts") + 1)
    return approval


def approval_reject(*, tenant, approval, actor, reason, at=None, kind=DecisionKind.REJECTED):
    """Reject (or expire) a draft; the sequence's rejection policy decides what the
    enrollment does: skip the step, or pause."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why the draft is rejected."})
    at = at or timezone.now()
    with transaction.atomic():
        enrollment, approval, message = _lock(tenant=tenant, approval_id=approval.pk)
        _pending_or_conflict(approval, tenant)
        message.state = "cancelled"
        message.error = f"{'Expired' if kind == DecisionKind.EXPIRED else 'Rejected'}: {reason}"[:2000]
        message.save()
        approval.status = ApprovalStatus.EXPIRED if kind == DecisionKind.EXPIRED else ApprovalStatus.REJECTED
        approval.decided_at = at
        approval.decided_by = actor
        approval.save(update_fields=["status", "decided_at", "decided_by"])
        ApprovalDecision.objects.create(
            tenant=tenant, request=approval, actor=actor, created_at=at, kind=kind, reason=reason,
            subject_before=message.subject, body_before=message.body_text,
        )
        _apply_rejection_policy(enrollment=enrollment, message=message, reason=reason, actor=actor, at=at)
    return approval


def _apply_rejection_policy(*, enrollment, message, reason, actor, at):
    same_step = enrollment.current_step_id == message.step_id and enrollment.step_pass == message.step_pass
    if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED) or not same_step:
        return
    if enrollment.sequence.rejection_policy == RejectionPolicy.PAUSE:
        # Resuming should draft this step afresh: a new pass (its own idempotency key)
        # and nothing to wait for, so `resume` makes it due again.
        if enrollment.status == EnrollmentStatus.ACTIVE:
            rows = transitions.rearm(enrollment, at=at) + transitions.pause(enrollment, "draft rejected", at=at,
                                                                               actor=actor)
        else:
            rows = transitions.rearm(enrollment, at=at, detail=f"Draft rejected: {reason}", actor=actor)
        single.apply(enrollment, rows, at=at)
        return
    single.step_done(enrollment, at=at, actor=actor, skipped=f"Draft rejected: {reason}")


def approval_regenerate(*, tenant, approval, actor, at=None):
    """A new draft from the agent into the same message (the provider runs outside the
    lock: it may take seconds)."""
    from agents.drafting import DraftError, draft
    from agents.services import apply_draft, draft_request_for

    at = at or timezone.now()
    current = ApprovalRequest.objects.select_related(
        "decided_by", "message__step", "message__agent_job__agent", "enrollment__contact",
        "enrollment__sequence__tenant", "enrollment__sequence__agent",
    ).get(pk=approval.pk, tenant=tenant)
    _pending_or_conflict(current, tenant)
    message, enrollment = current.message, current.enrollment
    agent = _agent_of(message, enrollment)
    if agent is None or message.step is None:
        raise ValidationError("This draft has no agent or step to write it again.")
    request = draft_request_for(enrollment=enrollment, step=message.step, agent=agent, tenant=tenant,
                                channel=message.channel)
    try:
        result = draft(request)
    except DraftError as exc:
        raise ValidationError(f"The agent could not write a new draft: {exc}") from None
    with transaction.atomic():
        enrollment, approval, message = _lock(tenant=tenant, approval_id=approval.pk)
        _pending_or_conflict(approval, tenant)
        before = (message.subject, message.body_text)
        apply_draft(message=message, result=result)
        message.save()
        approval.review_reasons = review_reasons(
            agent=agent, step=message.step, draft=result, tenant=tenant,
            owner_role=role_of(tenant=tenant, user_id=enrollment.sequence.owner_id))
        approval.save(update_fields=["review_reasons"])
        ApprovalDecision.objects.create(
            tenant=tenant, request=approval, actor=actor, created_at=at, kind=DecisionKind.REGENERATED,
            subject_before=before[0], body_before=before[1],
            subject_after=message.subject, body_after=message.body_text,
        )
    return approval


def approvals_bulk(*, tenant, approval_ids, actor, action, reason=""):
    """Approve or reject many; each in its own transaction so one conflict does not undo
    the rest. Returns (done, [(approval_id, why_not)])."""
    done, skipped = 0, []
    for approval in ApprovalRequest.objects.filter(tenant=tenant, pk__in=list(approval_ids)).order_by("created_at", "id"):
        try:
            if action == "approve":
                approval_approve(tenant=tenant, approval=approval, actor=actor)
            else:
                approval_reject(tenant=tenant, approval=approval, actor=actor, reason=reason)
            done += 1
        except (ApprovalConflict, ApprovalBlocked) as exc:
            skipped.append((approval.pk, str(exc)))
    return done, skipped


def approvals_expire_due(*, now=None, limit=200):
    """Drafts not reviewed in time follow their sequence's rejection policy (logged as
    decisions of kind 'expired'). Returns how many expired."""
    now = now or timezone.now()
    due = list(
        ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING, expires_at__lte=now)
        .select_related("tenant", "enrollment__sequence").order_by("expires_at")[:limit]
    )
    expired = 0
    for approval in due:
        hours = approval.enrollment.sequence.approval_expiry_hours
        reason = f"Not reviewed within {hours} hours" if hours else "Not reviewed in time"
        try:
            approval_reject(tenant=approval.tenant, approval=approval, actor=None, reason=reason, at=now,
                            kind=DecisionKind.EXPIRED)
        except ApprovalConflict:
            continue
        logger.info("Approval %s expired (%s)", approval.pk, reason)
        expired += 1
    return expired
