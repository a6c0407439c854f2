"""Where a finished draft goes: the review rule, and the two ways out of it.

One place for the rule shared by the processor (its set-based batch), remote agent jobs,
regenerated drafts and the enrollment page: `review_reasons` says why a draft needs a
human; a draft with reasons waits in the queue (`approval_request_create`), one without
goes out through `send_approved`, which is also the way out for a reviewer's approval,
so the two cannot drift apart. What is approved is hashed onto the message: delivery
sends exactly that."""
import hashlib
import json
from datetime import timedelta

from django.utils import timezone

from agents.models import Autonomy
from agents.policy import owner_review_reason
from messaging.services import message_enqueue
from sequences.flow import single
from sequences.models import WaitingOn

from .models import ApprovalRequest


def content_hash(subject, body):
    return hashlib.sha256(json.dumps([subject or "", body or ""], ensure_ascii=False).encode()).hexdigest()


def review_reasons(*, agent, step, draft, tenant, owner_role):
    """Why a draft needs a human before it may be sent; empty means it goes out on its
    own. `owner_role`: the role of the sequence's owner in the tenant (None: not a
    member). Without a `draft`, the reasons known before one is written (the enrollment
    page's "will it wait for review?")."""
    reasons = []
    if agent is None or not agent.is_active:
        reasons.append("agent is inactive")
    if step is not None and step.requires_human_approval:
        reasons.append("step requires human approval")
    if agent is not None:
        if agent.autonomy == Autonomy.REVIEW_ALL:
            reasons.append("agent is set to review every draft")
        elif agent.autonomy == Autonomy.AUTO_AFTER_N and agent.approved_drafts < agent.auto_after_approved:
            reasons.append(
                f"agent has {agent.approved_drafts} of {agent.auto_after_approved} approved drafts "
                "needed to send automatically"
            )
    policy = owner_review_reason(tenant=tenant, owner_role=owner_role, agent=agent)
    if policy:
        reasons.append(policy)
    if draft is not None:
        reasons.extend(f for f in draft.flags if f not in reasons)
    return reasons


def approval_request_create(*, tenant, message, enrollment, reasons, expires_at=None, at=None):
    """Put a drafted message in the queue. The caller makes the enrollment wait."""
    at = at or timezone.now()
    hours = enrollment.sequence.approval_expiry_hours
    if expires_at is None and hours:
        expires_at = at + timedelta(hours=hours)
    message.state = "pending_approval"
    message.save()
    return ApprovalRequest.objects.create(
        tenant=tenant, message=message, enrollment=enrollment, review_reasons=list(reasons),
        expires_at=expires_at, created_at=at,
    )


def send_approved(*, message, enrollment, at, detail, actor=None):
    """Hash what was approved onto the message, queue its delivery and move the
    enrollment on. The caller holds the transaction and the enrollment lock. Returns the
    hash."""
    digest = content_hash(message.subject, message.body_text)
    message.approved_content_hash = digest
    message.state = "approved"
    message.save()
    message_enqueue(message=message, at=at)
    single.step_done(enrollment, at=at, actor=actor, executed=detail)
    return digest


def route_draft(*, message, enrollment, reasons, at=None):
    """Send a finished draft where it belongs. The caller holds the transaction and the
    enrollment lock. With reasons: an approval request, and the enrollment waits for it.
    Without: delivery is queued and the enrollment moves on."""
    at = at or timezone.now()
    if reasons:
        approval = approval_request_create(
            tenant=enrollment.sequence.tenant, message=message, enrollment=enrollment, reasons=reasons, at=at,
        )
        single.wait(enrollment, WaitingOn.APPROVAL, at=at, detail="; ".join(reasons)[:300])
        return approval
    send_approved(message=message, enrollment=enrollment, at=at, detail="Draft sent without review")
    return None
