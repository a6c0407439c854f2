"""Reads for agents and their jobs. Every function takes the tenant."""
from django.db.models import F

from .models import Agent, AgentJob, JobStatus


def agent_list(*, tenant):
    return Agent.objects.filter(tenant=tenant).order_by("name", "id")


def agent_jobs_recent(*, tenant, agent, limit=25):
    return (
        AgentJob.objects.filter(tenant=tenant, agent=agent)
        .select_related("enrollment__contact", "step__sequence")
        .order_by("-created_at", "-id")[:limit]
    )


def agent_jobs_failed(*, tenant, agent, limit=50):
    return (
        AgentJob.objects.filter(tenant=tenant, agent=agent, status=JobStatus.FAILED)
        .select_related("enrollment__contact", "step__sequence")
        .order_by("-finished_at", "-id")[:limit]
    )


def thread_for(*, tenant, enrollment_id):
    """Earlier sent messages of the enrollment, oldest first: what a follow-up builds on.
    Only sent messages count, so the draft being written is never part of its own thread."""
    return threads_for(tenant=tenant, enrollment_ids=[enrollment_id]).get(enrollment_id, [])


def threads_for(*, tenant, enrollment_ids):
    """{enrollment_id: [sent messages oldest first]} in one query (approval cards)."""
    from messaging.models import MessageState, OutboundMessage

    threads = {}
    rows = (
        OutboundMessage.objects.filter(
            tenant=tenant, enrollment_id__in=list(enrollment_ids), state=MessageState.SENT
        )
        .only("id", "enrollment_id", "subject", "body_text", "sent_at", "created_at", "channel")
        .order_by("sent_at", "created_at", "id")
    )
    for message in rows:
        threads.setdefault(message.enrollment_id, []).append(message)
    return threads


def preview_contacts(*, tenant, membership, query="", limit=200):
    """Contacts to preview a draft for: the member's visible ones matching `query` (the
    contacts page's search), so any contact can be found, not only the first `limit`."""
    from contacts.search import apply_search
    from contacts.selectors import visible_contacts

    contacts = apply_search(visible_contacts(tenant=tenant, membership=membership), query)
    return contacts.only("id", "first_name", "last_name", "email", "company").order_by(
        "first_name", "last_name", "id")[:limit]


def preview_steps(*, tenant, agent, limit=200):
    """Steps of sequences this agent drafts for; any of the tenant's steps if none."""
    from sequences.models import Step

    steps = Step.objects.filter(tenant=tenant, version__sequence__current_version=F("version")).select_related(
        "sequence").order_by("sequence__name", "order")
    own = steps.filter(sequence__agent=agent)
    return (own if own.exists() else steps)[:limit]
