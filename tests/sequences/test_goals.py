"""Sequence goals: reached when the fact is recorded (not at the next sweep), and again by
the processor before each node; a reached goal is recorded once with its time, exits the
enrollment or moves it to another sequence through the enrollment service, and counts in
the sequence's conversion figures."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.facts import facts_record
from scendcore.api import api_token_create
from contacts.models import ContactEvent
from messaging.models import OutboundMessage
from messaging.services.inbound import meeting_booked
from sequences import selectors
from sequences.models import Activity, Enrollment, GoalReached
from sequences.services.enrollments import enrollment_create
from sequences.services.goals import goals_on_custom_event, goals_set
from tests.factories import ContactFactory, OutboundMessageFactory, SequenceFactory, StepFactory

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db

BOOKED = {"key": "booked", "name": "Booked meeting", "condition": {"kind": "meeting_booked"}, "action": "exit"}


def active_sequence(tenant, **fields):
    sequence = SequenceFactory(tenant=tenant, status="active", **fields)
    StepFactory(sequence=sequence, order=1, job_type="initial_outreach")
    StepFactory(sequence=sequence, order=2, delay_value=3, job_type="follow_up")
    return sequence


def enrolled(sequence, contact=None):
    contact = contact or ContactFactory(tenant=sequence.tenant)
    return enrollment_create(tenant=sequence.tenant, sequence=sequence, contact=contact, actor=None)


def test_a_booked_meeting_reaches_the_goal_at_once_and_exits_the_enrollment(tenant):
    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, goals=[BOOKED], actor=None)
    enrollment = enrolled(sequence)
    pending = OutboundMessageFactory(tenant=tenant, enrollment=enrollment, state="queued")

    meeting_booked(tenant=tenant, contact=enrollment.contact, source="calendly")

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "goal: Booked meeting")
    reached = GoalReached.objects.get(enrollment=enrollment)
    assert (reached.goal_key, reached.goal_name, reached.version_id) == ("booked", "Booked meeting",
                                                                         sequence.current_version_id)
    assert timezone.now() - reached.reached_at < timedelta(minutes=1)
    goal_row = Activity.objects.get(enrollment=enrollment, kind="goal")
    assert "Booked meeting" in goal_row.detail and "a meeting was booked" in goal_row.detail
    pending.refresh_from_db()
    assert pending.state == "cancelled"


def test_without_the_goal_a_booked_meeting_still_only_pauses(tenant):
    enrollment = enrolled(active_sequence(tenant))

    meeting_booked(tenant=tenant, contact=enrollment.contact)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.pause_reason) == ("paused", "meeting booked")
    assert not GoalReached.objects.exists()


def test_a_goal_is_recorded_once_per_enrollment_and_goal(tenant):
    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, goals=[BOOKED], actor=None)
    enrollment = enrolled(sequence)

    meeting_booked(tenant=tenant, contact=enrollment.contact)
    meeting_booked(tenant=tenant, contact=enrollment.contact)

    assert GoalReached.objects.filter(enrollment=enrollment).count() == 1


def test_a_move_goal_enrolls_the_contact_in_the_target_sequence_through_the_service(tenant):
    prep = active_sequence(tenant, name="Pre-meeting prep")
    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, actor=None,
              goals=[{**BOOKED, "action": "move", "sequence": prep.pk}])
    enrollment = enrolled(sequence)

    meeting_booked(tenant=tenant, contact=enrollment.contact)

    enrollment.refresh_from_db()
    assert enrollment.status == "exited"
    moved = Enrollment.objects.get(sequence=prep, contact=enrollment.contact)
    assert (moved.status, moved.enrolled_via) == ("active", "goal")
    assert Activity.objects.filter(enrollment=moved, kind="enrolled").exists()
    assert Activity.objects.filter(enrollment=enrollment, kind="goal", detail="Moved to “Pre-meeting prep”").exists()


def test_a_move_the_target_refuses_is_recorded_not_skipped(tenant):
    prep = active_sequence(tenant, name="Pre-meeting prep", reenroll_policy="never")
    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, actor=None, goals=[{**BOOKED, "action": "move", "sequence": prep.pk}])
    contact = ContactFactory(tenant=tenant)
    earlier = enrolled(prep, contact)
    Enrollment.objects.filter(pk=earlier.pk).update(status="completed", finished_at=timezone.now())
    enrollment = enrolled(sequence, contact)

    meeting_booked(tenant=tenant, contact=contact)

    note = Activity.objects.get(enrollment=enrollment, kind="goal", detail__startswith="Not moved")
    assert "does not allow re-enrollment" in note.detail
    assert Enrollment.objects.filter(sequence=prep, contact=contact, status="active").count() == 0


def test_a_goal_cannot_move_to_another_tenants_sequence(tenant, other_tenant):
    theirs = active_sequence(other_tenant)
    sequence = active_sequence(tenant)

    with pytest.raises(ValidationError, match="that sequence does not exist"):
        goals_set(tenant=tenant, sequence=sequence, actor=None,
                  goals=[{**BOOKED, "action": "move", "sequence": theirs.pk}])

    sequence.current_version.refresh_from_db()
    assert sequence.current_version.goals == []


def test_goals_of_another_tenants_sequence_cannot_be_set(tenant, other_tenant):
    with pytest.raises(ValidationError):
        goals_set(tenant=tenant, sequence=active_sequence(other_tenant), goals=[BOOKED], actor=None)


def test_a_lead_status_goal_is_reached_when_the_status_is_recorded(tenant):
    from contacts.services.contacts import contact_update

    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, actor=None, goals=[
        {"key": "sql", "name": "Qualified", "condition": {"kind": "lead_status", "in": ["qualified"]}}])
    enrollment = enrolled(sequence)

    contact_update(tenant=tenant, contact=enrollment.contact, data={"lead_status": "qualified"}, actor=None)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "goal: Qualified")


def test_a_click_reaches_a_goal_only_on_a_link_containing_its_text(tenant):
    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, actor=None, goals=[
        {"key": "demo", "name": "Demo page", "condition": {"kind": "clicked", "link_contains": "/book-demo"}}])
    enrollment = enrolled(sequence)

    facts_record(tenant=tenant, kind="clicked", contact_ids=[enrollment.contact_id], data={"url": "https://x.example/blog"})
    enrollment.refresh_from_db()
    assert enrollment.status == "active"

    facts_record(tenant=tenant, kind="clicked", contact_ids=[enrollment.contact_id],
                 data={"url": "https://x.example/Book-Demo?utm=1"})
    enrollment.refresh_from_db()
    assert enrollment.status == "exited"


def test_a_custom_event_reaches_the_goal_named_after_it(tenant):
    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, actor=None, goals=[
        {"key": "trial", "name": "Started a trial", "condition": {"kind": "custom_event", "name": "trial_started"}}])
    enrollment = enrolled(sequence)

    goals_on_custom_event(tenant=tenant, contact_ids=[enrollment.contact_id], name="webinar_joined")
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    goals_on_custom_event(tenant=tenant, contact_ids=[enrollment.contact_id], name="trial_started")
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "goal: Started a trial"


def test_another_tenants_fact_reaches_no_goal_of_ours(tenant, other_tenant):
    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, goals=[BOOKED], actor=None)
    enrollment = enrolled(sequence)

    meeting_booked(tenant=other_tenant, contact=enrollment.contact)

    enrollment.refresh_from_db()
    assert enrollment.status == "active"


# ---------------------------------------------------------------- the processor's check

def test_the_processor_reaches_a_click_goal_before_the_next_node_and_sends_nothing(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, actor=None, goals=[
        {"key": "demo", "name": "Demo page", "condition": {"kind": "clicked", "link_contains": "book-demo"}}])
    enrollment = due_enrollment(sequence, first)
    # Recorded by a path that ran no reactions (an import of history): only the processor sees it.
    ContactEvent.objects.create(tenant=tenant, contact=enrollment.contact, kind="clicked",
                                data={"url": "https://x.example/book-demo"}, occurred_at=WEDNESDAY - timedelta(hours=3))
    untouched = due_enrollment(sequence, first)

    sweep_inline()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("exited", "goal: Demo page")
    assert GoalReached.objects.filter(enrollment=enrollment, goal_key="demo", reached_at=WEDNESDAY).exists()
    assert not OutboundMessage.objects.filter(enrollment=enrollment).exists()
    assert OutboundMessage.objects.filter(enrollment=untouched).count() == 1


def test_the_processor_moves_on_a_goal_through_the_enrollment_service(tenant):
    target = active_sequence(tenant, name="Customers")
    sequence, (first, *_) = running_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, actor=None, goals=[
        {"key": "won", "name": "Customer", "condition": {"kind": "lead_status", "in": ["qualified"]},
         "action": "move", "sequence": target.pk}])
    enrollment = due_enrollment(sequence, first, contact=ContactFactory(tenant=tenant, lead_status="qualified"))

    sweep_inline()

    enrollment.refresh_from_db()
    assert enrollment.status == "exited"
    assert Enrollment.objects.get(sequence=target, contact=enrollment.contact).enrolled_via == "goal"


# ---------------------------------------------------------------- conversion figures

def test_conversion_is_goals_reached_over_enrolled_on_the_cards_and_in_the_api(rep_client, rep, tenant, other_tenant):
    sequence = active_sequence(tenant, name="Q3")
    goals_set(tenant=tenant, sequence=sequence, goals=[BOOKED], actor=None)
    enrollments = [enrolled(sequence) for _ in range(4)]
    meeting_booked(tenant=tenant, contact=enrollments[0].contact)
    theirs = active_sequence(other_tenant)
    goals_set(tenant=other_tenant, sequence=theirs, goals=[BOOKED], actor=None)
    meeting_booked(tenant=other_tenant, contact=enrolled(theirs).contact)

    stats = selectors.goal_stats(tenant=tenant, sequence_ids=[sequence.pk, theirs.pk])

    assert stats[sequence.pk] == {"enrolled": 4, "reached": 1, "conversion_rate": 0.25, "by_goal": [
        {"key": "booked", "name": "Booked meeting", "reached": 1, "conversion_rate": 0.25}]}
    assert stats[theirs.pk]["reached"] == 0
    page = rep_client.get("/sequences/").content.decode()
    assert "Goal reached" in page and "25 % of 4" in page
    key = api_token_create(tenant=tenant, user=rep, name="reports")
    body = rep_client.get(f"/api/sequences/{sequence.pk}/analytics/", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert body["goals"]["conversion_rate"] == 0.25


# ---------------------------------------------------------------- the builder

def test_a_rep_adds_and_removes_a_goal_in_the_builder(rep_client, tenant):
    from django.urls import reverse

    prep = active_sequence(tenant, name="Pre-meeting prep")
    sequence = active_sequence(tenant)

    response = rep_client.post(reverse("sequences:goal-add", args=[sequence.pk]), {
        "name": "Booked meeting", "kind": "meeting_booked", "action": "move", "sequence": prep.pk,
    }, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    sequence.current_version.refresh_from_db()
    (goal,) = sequence.current_version.goals
    assert (goal["name"], goal["condition"], goal["action"], goal["sequence"]) == (
        "Booked meeting", {"kind": "meeting_booked"}, "move", prep.pk)
    assert "when a meeting is booked, move to “Pre-meeting prep”" in response.content.decode()

    rep_client.post(reverse("sequences:goal-delete", args=[sequence.pk, goal["key"]]), HTTP_HX_REQUEST="true")
    sequence.current_version.refresh_from_db()
    assert sequence.current_version.goals == []


def test_the_builder_refuses_a_move_to_another_tenants_sequence_with_422(rep_client, tenant, other_tenant):
    from django.urls import reverse

    theirs = active_sequence(other_tenant)
    sequence = active_sequence(tenant)

    response = rep_client.post(reverse("sequences:goal-add", args=[sequence.pk]), {
        "name": "Booked meeting", "kind": "meeting_booked", "action": "move", "sequence": theirs.pk,
    }, HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    sequence.current_version.refresh_from_db()
    assert sequence.current_version.goals == []


def test_a_goal_without_what_reaches_it_is_refused_with_its_message(rep_client, tenant):
    from django.urls import reverse

    sequence = active_sequence(tenant)

    response = rep_client.post(reverse("sequences:goal-add", args=[sequence.pk]), {
        "name": "Qualified", "kind": "lead_status", "action": "exit"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    assert "choose the lead statuses that reach it" in response.content.decode()


def test_an_outsider_cannot_add_or_remove_our_goals(outsider_client, tenant):
    from django.urls import reverse

    sequence = active_sequence(tenant)
    goals_set(tenant=tenant, sequence=sequence, goals=[BOOKED], actor=None)

    added = outsider_client.post(reverse("sequences:goal-add", args=[sequence.pk]),
                                 {"name": "Mine", "kind": "meeting_booked", "action": "exit"})
    removed = outsider_client.post(reverse("sequences:goal-delete", args=[sequence.pk, "booked"]))

    assert (added.status_code, removed.status_code) == (404, 404)
    sequence.current_version.refresh_from_db()
    assert [g["key"] for g in sequence.current_version.goals] == ["booked"]
