"""Reads for the approval queue. Every function takes the tenant and the viewer's
membership: reps only ever see drafts for contacts they own."""
from django.contrib.auth import get_user_model

from scendcore.lookups import as_id

from .models import ApprovalRequest, ApprovalStatus

CHANNELS = (("email", "Email"), ("sms", "SMS"), ("task", "Task"), ("call_reminder", "Call reminder"))
FILTER_KEYS = ("sequence", "agent", "owner", "channel")


def visible_approvals(*, tenant, membership):
    approvals = ApprovalRequest.objects.filter(tenant=tenant)
    if not membership.is_manager:
        approvals = approvals.filter(message__contact__owner_id=membership.user_id)
    return approvals


def can_decide(*, membership, approval):
    """Managers and admins decide; a rep only for their own contact, and only if the
    tenant allows it."""
    if membership.is_manager:
        return True
    return bool(membership.tenant.reps_can_approve and approval.message.contact.owner_id == membership.user_id)


def may_see_queue_count(membership):
    return bool(membership and (membership.is_manager or membership.tenant.reps_can_approve))


def pending_count(*, tenant, membership):
    return visible_approvals(tenant=tenant, membership=membership).filter(status=ApprovalStatus.PENDING).count()


def parse_filters(params):
    """The queue's filters from a query string: ints for ids, a known channel."""
    filters = {}
    for key in ("sequence", "agent", "owner"):
        value = as_id(params.get(key))
        if value is not None:
            filters[key] = value
    channel = params.get("channel") or ""
    if channel in dict(CHANNELS):
        filters["channel"] = channel
    return filters


def approval_queue(*, tenant, membership, filters):
    """Pending drafts, oldest first, with what a card shows joined in."""
    approvals = visible_approvals(tenant=tenant, membership=membership).filter(status=ApprovalStatus.PENDING)
    if "sequence" in filters:
        approvals = approvals.filter(enrollment__sequence_id=filters["sequence"])
    if "agent" in filters:
        approvals = approvals.filter(enrollment__sequence__agent_id=filters["agent"])
    if "owner" in filters:
        approvals = approvals.filter(message__contact__owner_id=filters["owner"])
    if "channel" in filters:
        approvals = approvals.filter(message__channel=filters["channel"])
    return approvals.select_related(
        "message__contact__owner", "message__step", "enrollment__sequence__agent",
    ).order_by("created_at", "id")


def filter_choices(*, tenant):
    from agents.models import Agent
    from sequences.models import Sequence

    users = get_user_model().objects.filter(memberships__tenant=tenant).order_by("first_name", "username")
    return {
        "sequences": Sequence.objects.filter(tenant=tenant).only("id", "name").order_by("name"),
        "agents": Agent.objects.filter(tenant=tenant).only("id", "name").order_by("name"),
        "owners": users,
        "channels": CHANNELS,
    }


def rejection_of(*, tenant, message):
    """The decision that rejected (or let expire) the message's draft, or None: such a
    message is cancelled, and its page says by whom, when and why."""
    from .models import ApprovalDecision, DecisionKind

    return (
        ApprovalDecision.objects.filter(
            tenant=tenant, request__message=message, kind__in=[DecisionKind.REJECTED, DecisionKind.EXPIRED])
        .select_related("actor").order_by("-created_at", "-id").first()
    )
