"""Demo sequences for a fresh workspace, built from the template catalog.

Uses the workspace's first agent and mailbox when they exist (it creates none), and
activates the cold-outreach sequence when it is ready to run. Then the rep's hot leads
are enrolled there, so the processor has work and the approval queue has drafts on the
first visit. Idempotent: a demo sequence is found by name and left as it is, and a
sequence that already has enrollments gets no more.
"""
from agents.models import Agent
from contacts.models import Contact
from messaging.models import Mailbox

from .models import Sequence, SequenceStatus
from .services import sequences as service

DEMO = (
    ("cold_outreach", "Demo · Cold Outreach", True),
    ("follow_up_series", "Demo · Follow-Up Series", False),
    ("webinar_promo", "Demo · Webinar Promo", False),
)


def seed(*, tenant, users):
    actor = users.get("rep") if users else None
    agent = Agent.objects.filter(tenant=tenant).order_by("pk").first()
    mailbox = Mailbox.objects.filter(tenant=tenant).order_by("pk").first()
    created = []
    for key, name, activate in DEMO:
        sequence = Sequence.objects.filter(tenant=tenant, name=name).first()
        if sequence is None:
            sequence = service.sequence_create_from_template(
                tenant=tenant, key=key, actor=actor, name=name, agent=agent, sender_profile=mailbox
            )
            if activate and not service.activation_problems(sequence):
                sequence = service.sequence_activate(tenant=tenant, sequence=sequence, actor=actor)
        created.append(sequence)
    if not Sequence.objects.filter(tenant=tenant, is_default=True).exists():
        first = created[0]
        if first.status != SequenceStatus.ARCHIVED:
            Sequence.objects.filter(pk=first.pk).update(is_default=True)
    _enroll_hot_leads(tenant=tenant, sequence=created[0], actor=actor)
    return created


def _enroll_hot_leads(*, tenant, sequence, actor, limit=12):
    from .services.enrollments import enrollments_bulk_create

    if sequence.status != SequenceStatus.ACTIVE or sequence.enrollments.exists() or actor is None:
        return
    leads = (
        Contact.objects.filter(tenant=tenant, owner=actor, score_band="hot",
                               lead_status__in=["new", "contacted", "qualified"])
        .order_by("pk").values_list("pk", flat=True)[:limit]
    )
    enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=list(leads), actor=actor)
