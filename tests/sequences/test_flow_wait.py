"""Wait nodes through the real processor on PostgreSQL: a duration, until a weekday and
time in the contact's zone, and until an event with a timeout. The fact a wait is
waiting for, recorded where it happens (the tracking pixel, the tag and field services,
the custom-event API), makes the enrollment due at once and kicks the processor."""
import json
from datetime import datetime, timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.facts import facts_record
from contacts.models import ContactEvent, Tag
from contacts.services.contacts import contact_update
from contacts.services.tags import contact_tags_add
from messaging.services import tracking
from scendcore.api import api_token_create
from sequences.engine.explain import enrollment_explain
from sequences.engine.steps import step_type
from sequences.models import Activity, Enrollment
from sequences.scheduling import next_run_at
from sequences.services.enrollments import enrollment_create
from tests.factories import ContactFactory

from .engine_helpers import WEDNESDAY, due_enrollment, sweep_inline
from .flow_helpers import flow, sent

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
UNTIL_MONDAY_9 = {"mode": "until", "weekdays": [0], "time": "09:00"}


def waiting_for(event, *, timeout_days=7, **fields):
    return {"key": "wait", "kind": "wait", "title": "Wait for it", "config": {
        "mode": "event", "event": event, "timeout": {"value": timeout_days, "unit": "days"}},
        "edges": [{"label": "event", "to": "thanks"}, {"label": "timeout", "to": "case"}], **fields}


def event_flow(tenant, event, **fields):
    """intro → a short pause → wait for `event` (7 days) → "thanks" on the event, "Case
    study" on the timeout."""
    return flow(tenant, [
        {"key": "intro", "title": "Intro"},
        {"key": "pause", "kind": "wait", "title": "Pause", "config": {"mode": "duration"}},
        waiting_for(event),
        {"key": "thanks", "title": "Thanks", "delay_value": 1},
        {"key": "case", "title": "Case study", "delay_value": 1},
    ], **fields)


def entered_wait(sequence, nodes, *, at, contact=None):
    """An enrollment that entered the event wait through the processor at `at`."""
    enrollment = due_enrollment(sequence, nodes["pause"], at=at, contact=contact)
    sweep_inline(now=at)
    enrollment.refresh_from_db()
    assert (enrollment.current_step.key, enrollment.waiting_on) == ("wait", "event")
    return enrollment


def at_node(enrollment):
    enrollment.refresh_from_db()
    return enrollment.current_step.key


# ------------------------------------------------------------------ duration and until

def test_enrolling_into_a_wait_until_monday_9_is_due_monday_9_in_the_contacts_zone(tenant, manager):
    sequence, nodes = flow(tenant, [{"key": "monday", "kind": "wait", "config": UNTIL_MONDAY_9}, {"key": "next"}])
    contact = ContactFactory(tenant=tenant, timezone="Europe/Berlin")

    enrollment = enrollment_create(tenant=tenant, sequence=sequence, contact=contact, actor=manager, at=WEDNESDAY)

    assert enrollment.next_run_at == datetime(2025, 6, 16, 9, 0, tzinfo=BERLIN)  # Wednesday 11th → Monday 16th


def test_a_wait_until_reached_through_the_processor_lands_at_monday_9_and_then_moves_on(tenant):
    sequence, nodes = flow(tenant, [
        {"key": "pause", "kind": "wait", "config": {"mode": "duration"}},
        {"key": "monday", "kind": "wait", "title": "Until Monday", "config": UNTIL_MONDAY_9},
        {"key": "next", "title": "Follow-up", "delay_value": 0},
    ])
    enrollment = due_enrollment(sequence, nodes["pause"], contact=ContactFactory(tenant=tenant, timezone="Europe/Berlin"))

    sweep_inline()
    enrollment.refresh_from_db()
    monday_9 = datetime(2025, 6, 16, 9, 0, tzinfo=BERLIN)
    assert (enrollment.current_step.key, enrollment.next_run_at, enrollment.waiting_on) == ("monday", monday_9, "")
    explained = enrollment_explain(tenant=tenant, enrollment=enrollment, now=WEDNESDAY)
    assert explained.answer == "Waiting until Mon 16 Jun 2025, 09:00 their time (Berlin, CEST), when “Follow-up” starts."

    sweep_inline(now=monday_9 - timedelta(minutes=1))
    assert at_node(enrollment) == "monday"
    sweep_inline(now=monday_9)
    assert at_node(enrollment) == "next"


def test_a_wait_until_keeps_the_wall_clock_across_a_dst_change(tenant):
    _, nodes = flow(tenant, [{"key": "sunday", "kind": "wait", "config": {"mode": "until", "weekdays": [6],
                                                                            "time": "09:00"}}])
    new_york = ZoneInfo("America/New_York")
    saturday = datetime(2026, 3, 7, 10, 0, tzinfo=new_york)  # EST; DST starts on Sunday the 8th
    contact = ContactFactory(tenant=tenant, timezone="America/New_York")

    due = next_run_at(step=nodes["sunday"], after=saturday, contact=contact, tenant=tenant)

    assert due == datetime(2026, 3, 8, 9, 0, tzinfo=new_york) and due.astimezone(new_york).tzname() == "EDT"


def test_a_duration_wait_counts_its_delay_and_then_moves_on(tenant):
    sequence, nodes = flow(tenant, [
        {"key": "pause", "kind": "wait", "config": {"mode": "duration"}},
        {"key": "three-hours", "kind": "wait", "config": {"mode": "duration"}, "delay_value": 3, "delay_unit": "hours"},
        {"key": "next", "delay_value": 1},
    ])
    enrollment = due_enrollment(sequence, nodes["pause"])

    sweep_inline()
    enrollment.refresh_from_db()
    assert (enrollment.current_step.key, enrollment.next_run_at) == ("three-hours", WEDNESDAY + timedelta(hours=3))
    sweep_inline(now=WEDNESDAY + timedelta(hours=3))
    assert at_node(enrollment) == "next"


# ------------------------------------------------------------------ waiting for an event

def test_entering_an_event_wait_waits_on_the_event_until_the_timeout(tenant):
    sequence, nodes = event_flow(tenant, {"kind": "replied"})

    enrollment = entered_wait(sequence, nodes, at=WEDNESDAY)

    assert enrollment.next_run_at == WEDNESDAY + timedelta(days=7)
    explained = enrollment_explain(tenant=tenant, enrollment=enrollment, now=WEDNESDAY)
    assert explained.answer == ("Waiting for a reply, or until Wed 18 Jun 2025, 11:00 their time (New York, EDT) "
                                "when the timeout path “Case study” starts.")


def test_an_open_through_the_tracking_pixel_wakes_the_wait_and_the_processor_takes_the_event_path(
        client, tenant, django_capture_on_commit_callbacks):
    sequence, nodes = event_flow(tenant, {"kind": "opened", "relative_to": "intro"})
    entered = timezone.now()
    enrollment = entered_wait(sequence, nodes, at=entered)
    message = sent(enrollment, nodes["intro"], at=entered - timedelta(hours=1))
    pixel = urlparse(tracking.pixel_url(tracking.tracking_token(message))).path

    with django_capture_on_commit_callbacks() as kicked:
        response = client.get(pixel)

    assert response.status_code == 200
    enrollment.refresh_from_db()
    # Due now, not at the timeout a week away: nothing waits for the next sweep's beat.
    assert entered < enrollment.next_run_at <= timezone.now()
    assert Activity.objects.filter(enrollment=enrollment, data__woken_by="opened").exists()
    assert kicked, "the processor is started once the open is committed"

    for callback in kicked:  # what commit runs: the sweep, eager in tests, on PostgreSQL
        callback()

    enrollment.refresh_from_db()
    assert (enrollment.current_step.key, enrollment.waiting_on) == ("thanks", "")
    row = Activity.objects.get(enrollment=enrollment, kind="path")
    assert row.detail.startswith("Took path “event” because the contact opened the message at ")


def test_an_open_before_the_wait_began_does_not_count_without_relative_to(tenant):
    sequence, nodes = event_flow(tenant, {"kind": "opened"})
    enrollment = due_enrollment(sequence, nodes["pause"])
    message = sent(enrollment, nodes["intro"], at=WEDNESDAY - timedelta(days=1))
    tracking_open(message, at=WEDNESDAY - timedelta(hours=2))
    sweep_inline(now=WEDNESDAY)  # enters the wait after the open

    sweep_inline(now=WEDNESDAY + timedelta(days=1))  # due only at the timeout: nothing happens
    enrollment.refresh_from_db()
    assert (enrollment.current_step.key, enrollment.next_run_at) == ("wait", WEDNESDAY + timedelta(days=7))


def tracking_open(message, *, at):
    from messaging.services.engagement import open_record

    open_record(token=tracking.tracking_token(message), at=at)


def test_without_the_event_the_timeout_takes_the_timeout_path(tenant):
    sequence, nodes = event_flow(tenant, {"kind": "opened"})
    enrollment = entered_wait(sequence, nodes, at=WEDNESDAY)

    sweep_inline(now=WEDNESDAY + timedelta(days=7) - timedelta(minutes=1))
    assert at_node(enrollment) == "wait"
    sweep_inline(now=WEDNESDAY + timedelta(days=7))

    assert at_node(enrollment) == "case"
    row = Activity.objects.get(enrollment=enrollment, kind="path")
    assert row.detail == ("Took path “timeout” because the wait timed out at Wed 18 Jun 2025, 11:00 their time "
                          "(New York, EDT) without an open")


def test_a_click_on_another_link_wakes_the_wait_but_it_goes_on_waiting_for_its_link(tenant):
    sequence, nodes = event_flow(tenant, {"kind": "clicked", "link_contains": "/book-demo"})
    entered = timezone.now()
    enrollment = entered_wait(sequence, nodes, at=entered)
    message = sent(enrollment, nodes["intro"], at=entered - timedelta(hours=1))
    facts_record(tenant=tenant, kind="clicked", contact_ids=[enrollment.contact_id], message=message,
                 data={"url": "https://acme.example/pricing"})
    enrollment.refresh_from_db()
    assert enrollment.next_run_at <= timezone.now()

    sweep_inline(now=timezone.now())

    enrollment.refresh_from_db()
    assert (enrollment.current_step.key, enrollment.waiting_on) == ("wait", "event")
    assert enrollment.next_run_at == entered + timedelta(days=7)
    facts_record(tenant=tenant, kind="clicked", contact_ids=[enrollment.contact_id], message=message,
                 data={"url": "https://acme.example/book-demo"})
    sweep_inline(now=timezone.now())
    assert at_node(enrollment) == "thanks"


def test_adding_the_tag_through_the_tag_service_wakes_the_wait_and_another_tag_does_not(tenant, manager):
    high_intent = Tag.objects.create(tenant=tenant, name="High Intent")
    other = Tag.objects.create(tenant=tenant, name="Newsletter")
    sequence, nodes = event_flow(tenant, {"kind": "tag_added", "tag": high_intent.pk})
    enrollment = entered_wait(sequence, nodes, at=timezone.now())

    contact_tags_add(tenant=tenant, contact_ids=[enrollment.contact_id], tag=other, actor=manager)
    sweep_inline(now=timezone.now())
    assert at_node(enrollment) == "wait"

    contact_tags_add(tenant=tenant, contact_ids=[enrollment.contact_id], tag=high_intent, actor=manager)
    sweep_inline(now=timezone.now())
    assert at_node(enrollment) == "thanks"
    assert ContactEvent.objects.filter(contact_id=enrollment.contact_id, kind="tag_added").count() == 2


def test_a_field_changed_to_the_value_through_the_contact_service_takes_the_event_path(tenant, manager):
    sequence, nodes = event_flow(tenant, {"kind": "field_changed", "field": "title", "value": "CTO"})
    enrollment = entered_wait(sequence, nodes, at=timezone.now())
    contact = enrollment.contact

    contact_update(tenant=tenant, contact=contact, data={"title": "VP Sales"}, actor=manager)
    sweep_inline(now=timezone.now())
    assert at_node(enrollment) == "wait"

    contact_update(tenant=tenant, contact=contact, data={"title": "CTO"}, actor=manager)
    sweep_inline(now=timezone.now())
    assert at_node(enrollment) == "thanks"
    event = ContactEvent.objects.filter(contact=contact, kind="field_changed").latest("occurred_at")
    assert event.data == {"field": "title", "from": "VP Sales", "to": "CTO", "by": manager.pk}


# ------------------------------------------------------------------ custom events (API)

@pytest.fixture
def token(tenant, rep):
    return api_token_create(tenant=tenant, user=rep, name="CRM sync")


def post_event(client, contact_id, key, body):
    return client.post(reverse("api:contact-events", args=[contact_id]), data=json.dumps(body),
                       content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_custom_event_posted_through_the_api_wakes_the_wait_and_takes_the_event_path(client, tenant, token):
    sequence, nodes = event_flow(tenant, {"kind": "custom", "name": "trial_started"})
    enrollment = entered_wait(sequence, nodes, at=timezone.now())

    other = post_event(client, enrollment.contact_id, token, {"name": "webinar_joined"})
    response = post_event(client, enrollment.contact_id, token, {"name": "trial_started", "data": {"plan": "pro"}})

    assert other.status_code == 201 and response.status_code == 201, response.content
    assert response.json() == {"contact_id": enrollment.contact_id, "name": "trial_started", "data": {"plan": "pro"}}
    event = ContactEvent.objects.filter(contact_id=enrollment.contact_id, kind="custom").latest("id")
    assert event.data == {"name": "trial_started", "data": {"plan": "pro"}}
    enrollment.refresh_from_db()
    assert enrollment.next_run_at <= timezone.now()
    # The event's values are in the enrollment's context, for a branch to read.
    assert enrollment.context == {"plan": "pro", "last_event": "trial_started"}
    sweep_inline(now=timezone.now())
    assert at_node(enrollment) == "thanks"


def test_a_custom_event_value_past_the_contexts_bounds_is_left_out_and_said_so(client, tenant, token):
    sequence, nodes = event_flow(tenant, {"kind": "custom", "name": "trial_started"})
    enrollment = entered_wait(sequence, nodes, at=timezone.now())

    response = post_event(client, enrollment.contact_id, token, {"name": "trial_started", "data": {"note": "x" * 600}})

    assert response.status_code == 201
    enrollment.refresh_from_db()
    assert "note" not in enrollment.context
    assert Activity.objects.filter(enrollment=enrollment, kind="action",
                                   detail__startswith="Context not written from the event “trial_started”").exists()


def test_a_custom_event_for_another_tenants_contact_is_a_404_and_records_nothing(client, tenant, other_tenant,
                                                                               outsider):
    theirs = api_token_create(tenant=other_tenant, user=outsider, name="theirs")
    ours = ContactFactory(tenant=tenant)

    response = post_event(client, ours.pk, theirs, {"name": "trial_started"})

    assert response.status_code == 404
    assert response.json() == {"errors": {"__all__": ["Not found."]}}
    assert not ContactEvent.objects.filter(contact=ours).exists()


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "ok", "data": ["not", "an", "object"]}, "data"),
    ({"name": "ok", "data": {"blob": "x" * 17000}}, "data"),
    ({"name": "ok", "extra": 1}, "extra"),
])
def test_a_bad_custom_event_is_refused_with_errors_keyed_by_field(client, tenant, token, body, field):
    contact = ContactFactory(tenant=tenant)

    response = post_event(client, contact.pk, token, body)

    assert response.status_code == 422, response.content
    assert list(response.json()["errors"]) == [field]
    assert not ContactEvent.objects.filter(contact=contact).exists()


# ------------------------------------------------------------------ settings

def test_an_event_wait_relative_to_a_later_node_or_another_tenants_tag_is_a_problem(tenant, other_tenant):
    theirs = Tag.objects.create(tenant=other_tenant, name="High Intent")
    _, nodes = flow(tenant, [
        waiting_for({"kind": "tag_added", "tag": theirs.pk, "relative_to": "later"}, timeout_days=0),
        {"key": "later"}, {"key": "thanks"}, {"key": "case"},
    ])

    problems = step_type("wait").settings_problems(nodes["wait"], tenant=tenant)

    assert problems == {
        "event": ["No such tag in this workspace.", "“later” is not a message node that can run before this one."],
        "timeout": ["Enter a timeout: a whole number of minutes, hours or days."],
    }


def test_a_wait_until_without_weekdays_or_time_is_a_problem_and_a_valid_wait_is_not(tenant):
    _, nodes = flow(tenant, [
        {"key": "bad", "kind": "wait", "config": {"mode": "until", "weekdays": [], "time": "9am"}},
        {"key": "intro"},
        waiting_for({"kind": "opened", "relative_to": "intro"}),
        {"key": "thanks"}, {"key": "case"},
    ])
    wait = step_type("wait")

    assert wait.settings_problems(nodes["bad"], tenant=tenant) == {
        "weekdays": ["Pick at least one weekday (Monday is 0, Sunday 6)."], "time": ["Enter a time of day as HH:MM."]}
    assert wait.settings_problems(nodes["wait"], tenant=tenant) == {}


def test_only_enrollments_waiting_for_that_kind_of_event_are_woken(tenant):
    sequence, nodes = event_flow(tenant, {"kind": "replied"})
    enrollment = entered_wait(sequence, nodes, at=timezone.now())
    facts_record(tenant=tenant, kind="opened", contact_ids=[enrollment.contact_id])

    assert Enrollment.objects.get(pk=enrollment.pk).next_run_at > timezone.now() + timedelta(days=6)


def test_an_event_recorded_while_paused_is_found_when_the_enrollment_is_resumed(tenant, manager):
    from sequences.services.enrollments import enrollment_pause, enrollment_resume

    sequence, nodes = event_flow(tenant, {"kind": "custom", "name": "trial_started"})
    enrollment = entered_wait(sequence, nodes, at=timezone.now())
    enrollment_pause(tenant=tenant, enrollment=enrollment, actor=manager)
    facts_record(tenant=tenant, kind="custom", contact_ids=[enrollment.contact_id], data={"name": "trial_started"})

    enrollment_resume(tenant=tenant, enrollment=Enrollment.objects.get(pk=enrollment.pk), actor=manager)
    sweep_inline(now=timezone.now())

    assert at_node(enrollment) == "thanks"
