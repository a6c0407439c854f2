"""Send time: a rep's sequence never sends a draft unreviewed unless the workspace lets
reps' drafts go out on their own. Whose role counts is the sequence owner's, read when
the draft is routed (the processor on PostgreSQL, a remote agent's job, the "why" page)."""
import pytest
from django.db import transaction

from agents.services import agent_job_run, agent_job_start
from approvals.models import ApprovalRequest
from messaging.models import OutboundMessage
from scendcore.models import Membership, Role
from sequences.flow import store
from sequences.engine.explain import enrollment_explain
from sequences.services.sequences import sequence_update_settings
from tests.approvals.builders import drafted_message
from tests.factories import AgentFactory, MembershipFactory, SequenceFactory, StepFactory, UserFactory
from tests.sequences.engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

from .fake_llm import completion

pytestmark = pytest.mark.django_db

POLICY_REASON = "workspace policy: drafts of sequences not owned by a manager or admin are reviewed"


def _routed(sequence, step):
    """Run the due step through the real processor; the message it made."""
    enrollment = due_enrollment(sequence, step)
    sweep_inline()
    enrollment.refresh_from_db()
    return OutboundMessage.objects.get(enrollment=enrollment), enrollment


def test_a_reps_sequence_with_an_auto_sending_agent_waits_for_approval(tenant, rep):
    sequence, (first, *_) = running_sequence(tenant, autonomy="auto_send", owner=rep)

    message, enrollment = _routed(sequence, first)

    assert message.state == "pending_approval"
    approval = ApprovalRequest.objects.get(message=message)
    assert approval.status == "pending" and POLICY_REASON in approval.review_reasons
    assert (enrollment.current_step, enrollment.waiting_on) == (first, "approval")


def test_the_same_agent_on_a_managers_sequence_sends_without_review(tenant, manager):
    sequence, (first, second, _) = running_sequence(tenant, autonomy="auto_send", owner=manager)

    message, enrollment = _routed(sequence, first)

    assert message.state == "queued"
    assert not ApprovalRequest.objects.filter(message=message).exists()
    assert enrollment.current_step == second


def test_with_the_policy_on_a_reps_sequence_sends_as_its_agent_says(tenant, rep):
    tenant.reps_may_auto_send = True
    tenant.save(update_fields=["reps_may_auto_send"])
    sequence, (first, *_) = running_sequence(tenant, autonomy="auto_send", owner=rep)

    message, _ = _routed(sequence, first)

    assert message.state == "queued"


@pytest.mark.parametrize("owner", ["nobody", "former member", "member of another workspace"])
def test_a_sequence_whose_owner_is_no_manager_here_waits_for_approval(tenant, other_tenant, owner):
    user = None if owner == "nobody" else UserFactory()
    if owner == "member of another workspace":
        MembershipFactory(user=user, tenant=other_tenant, role=Role.ADMIN)
    sequence, (first, *_) = running_sequence(tenant, autonomy="auto_send", owner=user)

    message, _ = _routed(sequence, first)

    assert message.state == "pending_approval"
    assert POLICY_REASON in ApprovalRequest.objects.get(message=message).review_reasons


def test_a_manager_attaching_an_auto_sending_agent_to_a_reps_sequence_does_not_unlock_auto_send(
    tenant, rep, manager
):
    sequence, (first, *_) = running_sequence(tenant, autonomy="review_all", owner=rep)
    auto = AgentFactory(tenant=tenant, autonomy="auto_send")
    sequence_update_settings(tenant=tenant, sequence=sequence, actor=manager, values={"agent": auto})

    message, _ = _routed(sequence, first)

    assert message.state == "pending_approval"
    assert POLICY_REASON in ApprovalRequest.objects.get(message=message).review_reasons


def test_the_owners_role_is_read_when_the_draft_is_routed(tenant, manager):
    sequence, (first, *_) = running_sequence(tenant, autonomy="auto_send", owner=manager)
    Membership.objects.filter(tenant=tenant, user=manager).update(role=Role.REP)

    message, _ = _routed(sequence, first)

    assert message.state == "pending_approval"


def test_a_remote_agents_draft_for_a_reps_sequence_waits_for_approval(tenant, rep, llm, monkeypatch):
    monkeypatch.setenv("SCEND_TEST_KEY", "sk-test")
    agent = AgentFactory(tenant=tenant, autonomy="auto_send", provider="openai_compatible", provider_settings={
        "base_url": llm.base_url, "model": "m", "api_key_env": "SCEND_TEST_KEY", "timeout_seconds": 2,
        "max_retries": 0})
    sequence = SequenceFactory(tenant=tenant, agent=agent, owner=rep)
    message = drafted_message(tenant=tenant, step=StepFactory(sequence=sequence), subject="", body="")
    with transaction.atomic():
        enrollment = store.locked(message.enrollment_id, tenant_id=tenant.pk)
        job = agent_job_start(tenant=tenant, enrollment=enrollment, message=message, agent=agent)
    llm.script = [completion(subject="Idea for you", body="Hi,\n\nA thought.")]

    assert agent_job_run(tenant_id=tenant.pk, job_id=job.pk) == "succeeded"

    message.refresh_from_db()
    assert message.state == "pending_approval"
    assert POLICY_REASON in ApprovalRequest.objects.get(message=message).review_reasons


def test_the_why_page_says_the_reps_draft_will_wait_for_approval(tenant, rep):
    sequence, (first, *_) = running_sequence(tenant, autonomy="auto_send", owner=rep)
    enrollment = due_enrollment(sequence, first)

    explanation = enrollment_explain(tenant=tenant, enrollment=enrollment, now=WEDNESDAY)

    texts = [hold.text for hold in explanation.holds if hold.kind == "approval"]
    assert texts and POLICY_REASON in texts[0]
