"""The one enrollment state machine (sequences.flow): what each transition does, and
that one enrollment and a batch are written the same way."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from sequences.flow import navigator, store, transitions
from sequences.models import Activity, Enrollment, WaitingOn
from tests.dates import day_text
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_steps(tenant):
    sequence = SequenceFactory(tenant=tenant)
    return sequence, [StepFactory(sequence=sequence, order=1, delay_value=0),
                      StepFactory(sequence=sequence, order=2, delay_value=3)]


def _enrolled(sequence, step, **fields):
    return EnrollmentFactory(tenant=sequence.tenant, sequence=sequence, current_step=step,
                             contact=ContactFactory(tenant=sequence.tenant, timezone="America/New_York"), **fields)


def _written(enrollment, rows, *, at, batch):
    with transaction.atomic():
        row = store.locked(enrollment.pk, tenant_id=enrollment.tenant_id)
        activities = rows(row, at)
        if batch:
            store.save_batch([row], activities, at=at)
        else:
            store.save(row, activities, at=at)


def test_completing_a_step_schedules_the_next_after_its_delay_in_the_contacts_time(two_steps):
    sequence, (first, second) = two_steps
    enrollment = _enrolled(sequence, first)
    # A day delay keeps the contact's wall-clock time (3 days can be 71 or 73 hours across
    # a DST change), so the expectation is written in their zone, at noon, which no DST
    # change skips.
    zone = ZoneInfo("America/New_York")
    today = timezone.now().astimezone(zone).date()
    done_at = datetime.combine(today, time(12), tzinfo=zone)

    _written(enrollment, lambda e, at: transitions.advance(e, second, at=at, executed="Step completed"),
             at=done_at, batch=False)

    enrollment.refresh_from_db()
    assert enrollment.current_step == second
    assert enrollment.next_run_at == datetime.combine(today + timedelta(days=3), time(12), tzinfo=zone)
    scheduled = Activity.objects.get(enrollment=enrollment, kind="step_scheduled")
    local = enrollment.next_run_at.astimezone(zone)
    assert scheduled.detail == f"Step 2 (Email) due {day_text(local)}, 12:00 their time (New York, {local.tzname()})"
    assert Activity.objects.get(enrollment=enrollment, kind="step_executed").step_id == first.pk


def test_every_step_entered_is_a_new_pass_even_the_same_step_again(two_steps):
    sequence, (first, second) = two_steps
    enrollment = _enrolled(sequence, first)
    now = timezone.now()

    passes = [enrollment.step_pass]
    for following in (second, first, second):
        transitions.advance(enrollment, following, at=now)
        passes.append(enrollment.step_pass)

    assert passes == [1, 2, 3, 4]
    assert enrollment.current_step == second


def test_the_last_step_done_completes_the_enrollment(two_steps):
    sequence, (first, second) = two_steps
    enrollment = _enrolled(sequence, second)

    _written(enrollment, lambda e, at: transitions.advance(e, None, at=at), at=timezone.now(), batch=False)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.next_run_at) == ("completed", None)
    assert Activity.objects.filter(enrollment=enrollment, kind="completed", step=second).exists()


def test_resume_brings_an_overdue_step_to_now_without_replaying_missed_ones(two_steps):
    sequence, (first, second) = two_steps
    enrollment = _enrolled(sequence, first, status="paused", next_run_at=timezone.now() - timedelta(days=10))
    now = timezone.now()

    _written(enrollment, lambda e, at: transitions.resume(e, at=at), at=now, batch=False)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.current_step, enrollment.next_run_at) == ("active", first, now)


def test_exit_is_final_and_a_finished_enrollment_refuses_every_other_change(two_steps):
    sequence, (first, _) = two_steps
    enrollment = _enrolled(sequence, first)
    now = timezone.now()
    _written(enrollment, lambda e, at: transitions.exit(e, "bounced", at=at), at=now, batch=False)
    enrollment.refresh_from_db()

    for change in (lambda e: transitions.exit(e, "again", at=now), lambda e: transitions.resume(e, at=now),
                   lambda e: transitions.pause(e, "replied", at=now)):
        with pytest.raises(transitions.Refused):
            change(enrollment)
    assert Activity.objects.filter(enrollment=enrollment, kind="exited").count() == 1
    assert (enrollment.status, enrollment.exit_reason) == ("unenrolled", "bounced")


def test_the_navigator_walks_the_steps_in_order(two_steps):
    sequence, (first, second) = two_steps
    steps = navigator.steps_of(sequence.pk)

    assert navigator.first_node(steps) == first
    assert navigator.next_node(steps, first) == second
    assert navigator.next_node(steps, second) is None
    assert navigator.first_node([]) is None


def test_locked_takes_the_row_lock_even_with_no_current_step(tenant):
    enrollment = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant), current_step=None)
    with transaction.atomic():
        assert store.locked(enrollment.pk, tenant_id=tenant.pk) == enrollment


def test_locked_does_not_find_another_tenants_enrollment(tenant, other_tenant):
    theirs = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))
    with transaction.atomic(), pytest.raises(Enrollment.DoesNotExist):
        store.locked(theirs.pk, tenant_id=tenant.pk)


# Each transition, from the state it starts in.
TRANSITIONS = {
    "advance": ({}, lambda e, s, at: transitions.advance(e, s[1], at=at, executed="Email sent")),
    "advance past the last step": ({}, lambda e, s, at: transitions.advance(e, None, at=at, skipped="Skipped")),
    "wait": ({}, lambda e, s, at: transitions.wait(e, WaitingOn.TASK, at=at, detail="Task waiting")),
    "defer": ({}, lambda e, s, at: transitions.defer(e, at + timedelta(hours=5), "outside the send window", at=at,
                                                      gate="window")),
    "pause": ({}, lambda e, s, at: transitions.pause(e, "replied", at=at)),
    "resume": ({"status": "paused"}, lambda e, s, at: transitions.resume(e, at=at)),
    "exit": ({}, lambda e, s, at: transitions.exit(e, "unsubscribed", at=at)),
    "finish": ({}, lambda e, s, at: transitions.finish(e, at=at, detail="The step it was on no longer exists")),
    "fail": ({}, lambda e, s, at: transitions.fail(e, "steps of kind 'x' cannot be run", at=at)),
    "rearm and pause": ({"waiting_on": "approval", "next_run_at": None},
                        lambda e, s, at: transitions.rearm(e, at=at) + transitions.pause(e, "replied", at=at)),
    "move": ({}, lambda e, s, at: transitions.move(e, s[1], at=at, detail="Step removed; continues with step 2")),
    "move to nothing": ({}, lambda e, s, at: transitions.move(e, None, at=at, detail="Steps removed")),
    "reschedule": ({}, lambda e, s, at: transitions.reschedule(e, at + timedelta(minutes=20), at=at,
                                                               detail="Sequence resumed: rescheduled")),
}
COMPARED = [f for f in store.ENROLLMENT_FIELDS] + ["updated_at"]


def _state(enrollment):
    enrollment.refresh_from_db()
    activities = list(Activity.objects.filter(enrollment=enrollment).order_by("id").values_list(
        "kind", "detail", "step_id", "data", "actor_id", "created_at"))
    return {f: getattr(enrollment, f) for f in COMPARED}, activities


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_each_transition_writes_the_same_rows_for_one_enrollment_and_in_a_batch(two_steps, other_tenant, name):
    sequence, steps = two_steps
    start, change = TRANSITIONS[name]
    due = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    one, in_batch = (_enrolled(sequence, steps[0], **{"next_run_at": due, **start}) for _ in range(2))
    outsider = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))
    at = timezone.now()

    _written(one, lambda e, at: change(e, steps, at), at=at, batch=False)
    _written(in_batch, lambda e, at: change(e, steps, at), at=at, batch=True)

    single, batch = _state(one), _state(in_batch)
    assert single == batch
    assert single[1], "every transition here records itself"
    assert Activity.objects.filter(enrollment=outsider).count() == 0
