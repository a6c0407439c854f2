"""Approval decisions: approve, edit & approve, reject by policy, regenerate, expiry,
blocked drafts, and exactly-one-winner races on PostgreSQL."""
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection
from django.utils import timezone

from agents.models import Agent
from approvals.models import ApprovalDecision, ApprovalRequest
from approvals.routing import content_hash
from approvals.services import (
    ApprovalBlocked, ApprovalConflict, approval_approve, approval_regenerate,
    approval_reject, approvals_bulk, approvals_expire_due,
)
from messaging.models import OutboundMessage
from sequences.models import Activity
from tests.dates import day_text
from tests.factories import SequenceFactory, StepFactory

from .builders import pending_approval


def _two_step_approval(tenant, **sequence_fields):
    sequence = SequenceFactory(tenant=tenant, **sequence_fields)
    first = StepFactory(sequence=sequence, angle="their hiring plan")
    StepFactory(sequence=sequence, delay_value=3)
    return pending_approval(tenant=tenant, step=first)


def _reload(approval):
    approval.refresh_from_db()
    approval.message.refresh_from_db()
    approval.enrollment.refresh_from_db()
    return approval


@pytest.mark.django_db
def test_approving_queues_exactly_the_approved_content_and_advances_the_enrollment(tenant, manager):
    approval = _two_step_approval(tenant)
    agent = approval.enrollment.sequence.agent

    approval_approve(tenant=tenant, approval=approval, actor=manager)

    _reload(approval)
    message = approval.message
    assert approval.status == "approved" and approval.decided_by == manager
    assert message.state == "queued"
    assert message.approved_content_hash == content_hash(message.subject, message.body_text)
    decision = ApprovalDecision.objects.get(request=approval)
    assert (decision.kind, decision.actor, decision.content_hash) == ("approved", manager, message.approved_content_hash)
    assert approval.enrollment.current_step.order == 2
    assert approval.enrollment.waiting_on == ""
    assert Activity.objects.filter(enrollment=approval.enrollment, kind="step_executed").exists()
    agent.refresh_from_db()
    assert agent.approved_drafts == 1


@pytest.mark.django_db
def test_approving_asks_for_a_sweep_once_the_decision_commits(tenant, manager, other_tenant, kicks,
                                                            django_capture_on_commit_callbacks):
    # The enrollment's next step may be due at once: nobody should wait for the next beat.
    approval = _two_step_approval(tenant)
    untouched = _two_step_approval(other_tenant)

    with django_capture_on_commit_callbacks(execute=True):
        approval_approve(tenant=tenant, approval=approval, actor=manager)
        assert kicks == []  # nothing before the commit

    assert kicks.count("sweep") == 1
    assert _reload(untouched).status == "pending"


@pytest.mark.django_db
def test_edit_and_approve_records_before_and_after_and_sends_the_edit(tenant, manager):
    approval = _two_step_approval(tenant)
    original = (approval.message.subject, approval.message.body_text)

    approval_approve(tenant=tenant, approval=approval, actor=manager,
                     subject="Better subject", body="Hi Dana,\n\nEdited <b>by</b> Max.")

    _reload(approval)
    decision = ApprovalDecision.objects.get(request=approval)
    assert decision.kind == "edited_approved"
    assert (decision.subject_before, decision.body_before) == original
    assert (decision.subject_after, decision.body_after) == ("Better subject", "Hi Dana,\n\nEdited <b>by</b> Max.")
    assert approval.message.subject == "Better subject"
    assert "&lt;b&gt;by&lt;/b&gt;" in approval.message.body_html
    assert approval.message.approved_content_hash == content_hash("Better subject", "Hi Dana,\n\nEdited <b>by</b> Max.")
    assert Agent.objects.get(pk=approval.enrollment.sequence.agent_id).approved_drafts == 0  # edits are not clean


@pytest.mark.django_db
def test_an_edit_with_an_empty_body_is_refused_and_nothing_changes(tenant, manager):
    approval = _two_step_approval(tenant)
    with pytest.raises(ValidationError) as caught:
        approval_approve(tenant=tenant, approval=approval, actor=manager, subject="s", body="  ")
    assert "body" in caught.value.message_dict
    assert _reload(approval).status == "pending"


@pytest.mark.django_db
def test_an_sms_edit_longer_than_320_characters_is_refused(tenant, manager):
    approval = pending_approval(tenant=tenant, channel="sms", subject="", body="Hi Dana")
    with pytest.raises(ValidationError):
        approval_approve(tenant=tenant, approval=approval, actor=manager, subject="", body="x" * 321)


@pytest.mark.django_db
def test_rejecting_with_the_skip_policy_skips_the_step(tenant, manager):
    approval = _two_step_approval(tenant, rejection_policy="skip_step")

    approval_reject(tenant=tenant, approval=approval, actor=manager, reason="Too pushy")

    _reload(approval)
    assert approval.status == "rejected"
    assert approval.message.state == "cancelled"
    assert approval.enrollment.current_step.order == 2 and approval.enrollment.status == "active"
    assert Activity.objects.filter(enrollment=approval.enrollment, kind="step_skipped",
                                   detail="Draft rejected: Too pushy").exists()
    assert ApprovalDecision.objects.get(request=approval).reason == "Too pushy"


@pytest.mark.django_db
def test_rejecting_with_the_pause_policy_pauses_and_a_resume_drafts_the_step_again(tenant, manager):
    approval = _two_step_approval(tenant, rejection_policy="pause")

    approval_reject(tenant=tenant, approval=approval, actor=manager, reason="Wrong angle")

    enrollment = _reload(approval).enrollment
    assert (enrollment.status, enrollment.pause_reason) == ("paused", "draft rejected")
    assert enrollment.current_step.order == 1
    assert (enrollment.step_pass, enrollment.waiting_on) == (2, "")


@pytest.mark.django_db
def test_a_reject_needs_a_reason(tenant, manager):
    approval = _two_step_approval(tenant)
    with pytest.raises(ValidationError):
        approval_reject(tenant=tenant, approval=approval, actor=manager, reason=" ")


@pytest.mark.django_db
# Times are taken when the test runs, not when it is collected: a slow suite would
# otherwise make "a minute from now" lie in the past.
@pytest.mark.parametrize("change, why", [
    # Values are worked out when the test runs (after the draft is written), never when
    # the suite is collected: a reply "one minute from now" must still come after it.
    (lambda now: {"unsubscribed_at": now}, "unsubscribed"),
    (lambda now: {"do_not_contact": True}, "do-not-contact"),
    (lambda now: {"bounced_at": now}, "bounced"),
    (lambda now: {"last_replied_at": now + timedelta(minutes=1)}, "replied"),
])
def test_a_draft_whose_contact_cannot_be_contacted_any_more_is_not_sent(tenant, manager, change, why):
    approval = _two_step_approval(tenant)
    contact = approval.message.contact
    for field, value in change(timezone.now()).items():
        setattr(contact, field, value)
    contact.save()

    with pytest.raises(ApprovalBlocked, match=why):
        approval_approve(tenant=tenant, approval=approval, actor=manager)

    assert _reload(approval).status == "pending"
    assert approval.message.state == "pending_approval"


@pytest.mark.django_db
def test_a_reply_from_before_the_draft_does_not_block_it(tenant, manager):
    approval = _two_step_approval(tenant)
    approval.message.contact.last_replied_at = approval.created_at - timedelta(days=2)
    approval.message.contact.save()
    approval_approve(tenant=tenant, approval=approval, actor=manager)
    assert _reload(approval).status == "approved"


@pytest.mark.django_db
def test_a_decided_draft_answers_who_decided_and_when(tenant, manager, admin):
    approval = _two_step_approval(tenant)
    at = timezone.now().replace(hour=15, minute=42)
    approval_approve(tenant=tenant, approval=approval, actor=manager, at=at)

    zone = __import__("zoneinfo").ZoneInfo("America/New_York")
    with timezone.override(zone), pytest.raises(ApprovalConflict) as caught:  # the reviewer's zone
        approval_reject(tenant=tenant, approval=approval, actor=admin, reason="no")
    local = at.astimezone(zone)
    assert str(caught.value) == f"Already approved by Max_Manager at {day_text(local)}, {local:%H:%M} {local.tzname()}."


@pytest.mark.django_db
def test_regenerate_writes_a_new_draft_into_the_same_message(tenant, manager):
    approval = _two_step_approval(tenant)
    message_id = approval.message.pk
    approval.message.subject, approval.message.body_text = "old", "old body"
    approval.message.save()

    approval_regenerate(tenant=tenant, approval=approval, actor=manager)

    _reload(approval)
    assert approval.message.pk == message_id
    assert approval.message.body_text != "old body" and "your hiring plan" in approval.message.body_text
    decision = ApprovalDecision.objects.get(request=approval)
    assert (decision.kind, decision.body_before) == ("regenerated", "old body")
    assert approval.status == "pending"


@pytest.mark.django_db
def test_overdue_drafts_expire_by_the_rejection_policy_and_are_logged(tenant):
    approval = _two_step_approval(tenant, approval_expiry_hours=24, rejection_policy="skip_step")
    fresh = _two_step_approval(tenant, approval_expiry_hours=24)
    ApprovalRequest.objects.filter(pk=fresh.pk).update(expires_at=approval.expires_at + timedelta(hours=5))
    assert approval.expires_at == approval.created_at + timedelta(hours=24)

    expired = approvals_expire_due(now=approval.expires_at + timedelta(minutes=1))

    assert expired == 1
    assert _reload(fresh).status == "pending"
    _reload(approval)
    assert approval.status == "expired"
    decision = ApprovalDecision.objects.get(request=approval)
    assert (decision.kind, decision.actor, decision.reason) == ("expired", None, "Not reviewed within 24 hours")
    assert approval.enrollment.current_step.order == 2


@pytest.mark.django_db
def test_bulk_approve_reports_the_ones_it_could_not_send(tenant, manager):
    good = _two_step_approval(tenant)
    blocked = _two_step_approval(tenant)
    blocked.message.contact.do_not_contact = True
    blocked.message.contact.save()

    done, skipped = approvals_bulk(tenant=tenant, approval_ids=[good.pk, blocked.pk], actor=manager, action="approve")

    assert done == 1
    assert skipped == [(blocked.pk, "The contact is marked do-not-contact.")]


@pytest.mark.django_db
def test_an_outsider_tenant_cannot_decide_on_our_drafts(tenant, other_tenant, outsider):
    approval = _two_step_approval(tenant)
    with pytest.raises(ApprovalRequest.DoesNotExist):
        approval_approve(tenant=other_tenant, approval=approval, actor=outsider)
    assert _reload(approval).status == "pending"


# ---- races: two connections, one winner ---------------------------------------------

def _race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            call()
            outcomes[index] = "won"
        except ApprovalConflict as exc:
            outcomes[index] = str(exc)
        except Exception as exc:  # surfaced in the assertion
            outcomes[index] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    close_old_connections()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_managers_approving_the_same_draft_one_wins(tenant, manager, admin, celery_to_broker):
    approval = _two_step_approval(tenant)

    outcomes = _race(
        lambda: approval_approve(tenant=tenant, approval=approval, actor=manager),
        lambda: approval_approve(tenant=tenant, approval=approval, actor=admin),
    )

    assert sorted(o == "won" for o in outcomes) == [False, True]
    loser = next(o for o in outcomes if o != "won")
    assert loser.startswith("Already approved by ")
    assert ApprovalDecision.objects.filter(request=approval).count() == 1
    assert Activity.objects.filter(enrollment=approval.enrollment, kind="step_executed").count() == 1
    assert OutboundMessage.objects.get(pk=approval.message_id).state == "queued"


@pytest.mark.django_db(transaction=True)
def test_approve_against_reject_exactly_one_decision_wins(tenant, manager, admin, celery_to_broker):
    approval = _two_step_approval(tenant)

    outcomes = _race(
        lambda: approval_approve(tenant=tenant, approval=approval, actor=manager),
        lambda: approval_reject(tenant=tenant, approval=approval, actor=admin, reason="No"),
    )

    assert sorted(o == "won" for o in outcomes) == [False, True]
    _reload(approval)
    decisions = list(ApprovalDecision.objects.filter(request=approval))
    assert len(decisions) == 1
    if decisions[0].kind == "approved":
        assert approval.message.state == "queued" and outcomes[1].startswith("Already approved")
    else:
        assert approval.message.state == "cancelled" and outcomes[0].startswith("Already rejected")
