"""Sequence and step services: status transitions and their guards, reordering and
deleting while contacts are enrolled, validation, version and audit."""
from datetime import time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from scendcore.models import AuditEntry
from sequences.models import Activity, Enrollment, Sequence, SequenceVersion, Step
from sequences.services import sequences as service
from sequences.services import steps as step_service
from sequences.services import versions
from tests.factories import AgentFactory, EnrollmentFactory, MailboxFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


def orders(sequence):
    return list(Step.objects.filter(sequence=sequence).order_by("order").values_list("pk", "order"))


def keys(sequence):
    """The node keys of the version being edited, in outline order."""
    version = versions.draft_of(sequence) or Sequence.objects.get(pk=sequence.pk).current_version
    return list(Step.objects.filter(version=version).order_by("order").values_list("key", flat=True))


def publish_moving(sequence, actor):
    """Publish the draft moving everyone, each removed node to the node suggested for it."""
    sequence = Sequence.objects.get(pk=sequence.pk)
    preview = versions.publish_preview(tenant=sequence.tenant, sequence=sequence)
    node_map = {group.key: group.suggestion for group in preview.groups if not group.kept}
    return versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=actor, move="map",
                                    node_map=node_map)


@pytest.fixture
def abc(tenant):
    """A ready sequence with steps A (day 0), B (+3 days), C (+4 days)."""
    sequence = SequenceFactory(tenant=tenant)
    a = StepFactory(sequence=sequence, order=1, delay_value=0, job_type="initial_outreach")
    b = StepFactory(sequence=sequence, order=2, delay_value=3, job_type="follow_up")
    c = StepFactory(sequence=sequence, order=3, delay_value=4, job_type="follow_up")
    return sequence, a, b, c


def waiting_on(step, n=1, **extra):
    extra.setdefault("next_run_at", timezone.now() + timedelta(days=2))
    return [
        EnrollmentFactory(tenant=step.tenant, sequence=step.sequence, current_step=step, **extra)
        for _ in range(n)
    ]


# ---------------------------------------------------------------- status

def test_activation_is_refused_with_every_problem_listed(tenant, rep):
    sequence = SequenceFactory(tenant=tenant, agent=None, sender_profile=None)

    with pytest.raises(ValidationError) as refused:
        service.sequence_activate(tenant=tenant, sequence=sequence, actor=rep)

    problems = " ".join(refused.value.messages)
    assert "Add at least one step" in problems
    assert "agent" in problems
    sequence.refresh_from_db()
    assert sequence.status == "draft"


def test_activation_needs_a_sender_for_email_steps_and_valid_steps(tenant, rep):
    sequence = SequenceFactory(tenant=tenant, sender_profile=None)
    StepFactory(sequence=sequence, order=1, delay_value=0)
    StepFactory(sequence=sequence, order=2, delay_value=400, delay_unit="days")  # more than a year: invalid

    problems = service.activation_problems(sequence)

    assert any("sender profile or mailbox pool" in p for p in problems)
    assert any(p.startswith("Step 2:") and "more than a year" in p for p in problems)


def test_activating_a_valid_sequence_bumps_the_version_and_audits(abc, rep):
    sequence = abc[0]

    service.sequence_activate(tenant=sequence.tenant, sequence=sequence, actor=rep)

    sequence.refresh_from_db()
    assert (sequence.status, sequence.version) == ("active", 2)
    entry = AuditEntry.objects.get(object_type="sequence", object_id=str(sequence.pk), action="activated")
    assert entry.actor == rep and entry.changes == {"status": ["draft", "active"]}


def test_pause_and_resume_only_from_the_right_status(abc, rep):
    sequence, *_ = abc
    tenant = sequence.tenant
    with pytest.raises(ValidationError):
        service.sequence_pause(tenant=tenant, sequence=sequence, actor=rep)
    service.sequence_activate(tenant=tenant, sequence=sequence, actor=rep)
    with pytest.raises(ValidationError):
        service.sequence_resume(tenant=tenant, sequence=sequence, actor=rep)

    service.sequence_pause(tenant=tenant, sequence=sequence, actor=rep)
    assert Sequence.objects.get(pk=sequence.pk).status == "paused"
    service.sequence_resume(tenant=tenant, sequence=sequence, actor=rep)
    assert Sequence.objects.get(pk=sequence.pk).status == "active"


def test_resume_is_refused_when_the_agent_was_removed_while_paused(abc, rep):
    sequence, *_ = abc
    service.sequence_activate(tenant=sequence.tenant, sequence=sequence, actor=rep)
    service.sequence_pause(tenant=sequence.tenant, sequence=sequence, actor=rep)
    Sequence.objects.filter(pk=sequence.pk).update(agent=None)

    with pytest.raises(ValidationError, match="agent"):
        service.sequence_resume(tenant=sequence.tenant, sequence=sequence, actor=rep)
    assert Sequence.objects.get(pk=sequence.pk).status == "paused"


def test_archiving_ends_open_enrollments_and_makes_the_sequence_read_only(abc, manager):
    sequence, a, b, c = abc
    open_ones = waiting_on(b, 2) + waiting_on(c, 1, status="paused")
    done = EnrollmentFactory(tenant=sequence.tenant, sequence=sequence, status="completed")

    ended = service.sequence_archive(tenant=sequence.tenant, sequence=sequence, actor=manager)

    assert ended == 3
    for enrollment in open_ones:
        enrollment.refresh_from_db()
        assert (enrollment.status, enrollment.exit_reason, enrollment.next_run_at) == (
            "unenrolled", "sequence archived", None)
    done.refresh_from_db()
    assert done.status == "completed"
    assert Activity.objects.filter(sequence=sequence, kind="exited", detail="sequence archived").count() == 3
    sequence.refresh_from_db()
    assert sequence.status == "archived" and sequence.archived_at is not None
    with pytest.raises(ValidationError, match="archived"):
        step_service.step_add(tenant=sequence.tenant, sequence=sequence, actor=manager, values={"delay_value": 2})
    with pytest.raises(ValidationError):
        service.sequence_activate(tenant=sequence.tenant, sequence=sequence, actor=manager)


def test_duplicate_copies_settings_and_steps_as_a_draft(abc, rep):
    sequence, a, b, c = abc
    Sequence.objects.filter(pk=sequence.pk).update(status="active", is_default=True)
    sequence.refresh_from_db()

    copy = service.sequence_duplicate(tenant=sequence.tenant, sequence=sequence, actor=rep)

    assert copy.pk != sequence.pk
    assert (copy.status, copy.is_default, copy.name) == ("draft", False, f"Copy of {sequence.name}")
    assert copy.agent_id == sequence.agent_id and copy.sender_profile_id == sequence.sender_profile_id
    assert list(copy.steps.order_by("order").values_list("order", "delay_value")) == [(1, 0), (2, 3), (3, 4)]
    assert Step.objects.filter(sequence=sequence).count() == 3


def test_only_one_default_sequence_per_tenant_with_a_friendly_error(tenant, rep):
    first = SequenceFactory(tenant=tenant, name="Main cadence")
    second = SequenceFactory(tenant=tenant)
    service.sequence_update_settings(tenant=tenant, sequence=first, actor=rep, values={"is_default": True})

    with pytest.raises(ValidationError) as refused:
        service.sequence_update_settings(tenant=tenant, sequence=second, actor=rep, values={"is_default": True})

    assert "“Main cadence” is already the default" in refused.value.message_dict["is_default"][0]
    second.refresh_from_db()
    assert second.is_default is False


def test_the_database_itself_refuses_a_second_default(tenant):
    SequenceFactory(tenant=tenant, is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        SequenceFactory(tenant=tenant, is_default=True)


def test_another_tenants_mailbox_cannot_be_chosen(tenant, other_tenant, rep):
    sequence = SequenceFactory(tenant=tenant)
    foreign = MailboxFactory(tenant=other_tenant)

    with pytest.raises(ValidationError) as refused:
        service.sequence_update_settings(tenant=tenant, sequence=sequence, actor=rep,
                                         values={"sender_profile": foreign})
    assert "sender_profile" in refused.value.message_dict


def test_settings_changes_bump_the_version_and_record_what_changed(tenant, rep):
    sequence = SequenceFactory(tenant=tenant)
    agent = AgentFactory(tenant=tenant, name="Nova")

    service.sequence_update_settings(tenant=tenant, sequence=sequence, actor=rep,
                                     values={"agent": agent, "stop_on_reply": False, "name": sequence.name})

    sequence.refresh_from_db()
    assert sequence.version == 2
    entry = AuditEntry.objects.get(object_id=str(sequence.pk), action="settings_changed")
    assert set(entry.changes) == {"agent", "stop_on_reply"}


def test_creating_from_a_template_builds_its_steps(tenant, rep):
    sequence = service.sequence_create_from_template(tenant=tenant, key="cold_outreach", actor=rep)

    steps = list(sequence.steps.order_by("order"))
    assert sequence.name == "Cold Outreach" and sequence.status == "draft"
    assert [(s.order, s.delay_value, s.job_type) for s in steps] == [
        (1, 0, "initial_outreach"), (2, 3, "follow_up"), (3, 4, "follow_up")]
    again = service.sequence_create_from_template(tenant=tenant, key="cold_outreach", actor=rep)
    assert again.name == "Cold Outreach (2)"


# ---------------------------------------------------------------- step validation

@pytest.mark.parametrize("values, field, text", [
    ({"delay_value": 366, "delay_unit": "days"}, "delay_value", "more than a year"),
    ({"delay_value": -2}, "delay_value", "negative"),
    ({"window_days": [0, 1], "window_start": time(17), "window_end": time(9)}, "window_end", "end after"),
    ({"window_days": [], "window_start": time(9), "window_end": time(17)}, "window_days", "at least one day"),
    ({"subject_template": "Hi {{frist_name}}"}, "subject_template", "Unknown merge field {{frist_name}}"),
    ({"body_template": "Hello {{first_name"}, "body_template", "not closed"),
    ({"channel": "sms", "job_type": "follow_up", "subject_template": "Hi"}, "subject_template", "no subject"),
    ({"channel": "email", "job_type": "task"}, "job_type", "Email and SMS"),
])
def test_invalid_step_input_is_refused_and_nothing_is_saved(abc, rep, values, field, text):
    sequence = abc[0]

    with pytest.raises(ValidationError) as refused:
        step_service.step_add(tenant=sequence.tenant, sequence=sequence, actor=rep, values=values)

    assert any(text in message for message in refused.value.message_dict[field])
    assert Step.objects.filter(sequence=sequence).count() == 3
    assert Sequence.objects.get(pk=sequence.pk).version == 1


def test_the_first_step_may_fire_at_enrollment(tenant, rep):
    sequence = SequenceFactory(tenant=tenant)
    step = step_service.step_add(tenant=tenant, sequence=sequence, actor=rep,
                                 values={"delay_value": 0, "job_type": "initial_outreach",
                                         "subject_template": "Idea for {{company}}, {{ custom.industry }}"})
    assert (step.order, step.delay_value) == (1, 0)


def test_task_steps_take_the_task_job_type(abc, rep):
    sequence = abc[0]
    step = step_service.step_add(tenant=sequence.tenant, sequence=sequence, actor=rep,
                                 values={"channel": "call_reminder", "job_type": "follow_up", "delay_value": 1})
    assert step.job_type == "call_reminder"


def test_editing_a_step_records_the_change(abc, rep):
    sequence, a, b, c = abc
    step_service.step_update(tenant=sequence.tenant, step=b, actor=rep, values={"delay_value": 5})

    b.refresh_from_db()
    assert b.delay_value == 5
    entry = AuditEntry.objects.get(object_id=str(sequence.pk), action="step_updated")
    assert entry.changes["delay_value"] == [3, 5] and entry.actor == rep
    assert Sequence.objects.get(pk=sequence.pk).version == 2


# ---------------------------------------------------------------- reorder and delete

def test_orders_stay_gap_free_after_deletes_and_moves(abc, rep):
    sequence, a, b, c = abc
    d = step_service.step_add(tenant=sequence.tenant, sequence=sequence, actor=rep, values={"delay_value": 2})

    step_service.step_delete(tenant=sequence.tenant, step=b, actor=rep)
    assert orders(sequence) == [(a.pk, 1), (c.pk, 2), (d.pk, 3)]
    step_service.step_move(tenant=sequence.tenant, step=d, position=2, actor=rep)
    assert orders(sequence) == [(a.pk, 1), (d.pk, 2), (c.pk, 3)]
    assert Sequence.objects.get(pk=sequence.pk).version == 4


def test_editing_a_sequence_nobody_entered_changes_its_published_version_in_place(abc, rep):
    sequence, a, b, c = abc

    step_service.step_delete(tenant=sequence.tenant, step=b, actor=rep)

    assert SequenceVersion.objects.filter(sequence=sequence).count() == 1
    assert keys(sequence) == [a.key, c.key]
    assert not Step.objects.filter(pk=b.pk).exists()


def test_once_contacts_are_enrolled_edits_go_to_a_draft_and_nobody_moves(abc, rep):
    sequence, a, b, c = abc
    waiting = waiting_on(b, 3)

    moved = step_service.step_delete(tenant=sequence.tenant, step=b, actor=rep)

    assert moved == 0
    draft = versions.draft_of(sequence)
    assert (draft.number, draft.state) == (2, "draft")
    assert keys(sequence) == [a.key, c.key]
    assert list(sequence.current_nodes().order_by("order").values_list("pk", flat=True)) == [a.pk, b.pk, c.pk]
    for enrollment in waiting:
        enrollment.refresh_from_db()
        assert (enrollment.current_step_id, enrollment.version_id) == (b.pk, sequence.current_version_id)
    assert not Activity.objects.filter(sequence=sequence, kind="moved").exists()


def test_deleting_a_step_then_publishing_moves_its_waiting_enrollments_to_the_next_one(abc, rep):
    sequence, a, b, c = abc
    waiting = waiting_on(b, 3)
    before_b = waiting_on(a, 1)[0]
    due = {e.pk: e.next_run_at for e in waiting}
    step_service.step_delete(tenant=sequence.tenant, step=b, actor=rep)

    version, moved = publish_moving(sequence, rep)

    assert moved == 4
    new_c = Step.objects.get(version=version, key=c.key)
    for enrollment in waiting:
        enrollment.refresh_from_db()
        assert (enrollment.current_step_id, enrollment.version_id) == (new_c.pk, version.pk)
        assert enrollment.next_run_at == due[enrollment.pk]
        assert enrollment.status == "active"
        assert enrollment.step_pass == 2
    assert new_c.order == 2
    before_b.refresh_from_db()
    assert before_b.current_step_id == Step.objects.get(version=version, key=a.key).pk
    moved_rows = Activity.objects.filter(sequence=sequence, kind="moved", enrollment__in=waiting)
    assert moved_rows.count() == 3 and all(row.step_id == new_c.pk for row in moved_rows)


def test_deleting_the_last_step_then_publishing_completes_the_enrollments_waiting_on_it(abc, rep):
    sequence, a, b, c = abc
    waiting = waiting_on(c, 2)
    step_service.step_delete(tenant=sequence.tenant, step=c, actor=rep)

    publish_moving(sequence, rep)

    for enrollment in waiting:
        enrollment.refresh_from_db()
        assert (enrollment.status, enrollment.current_step_id, enrollment.next_run_at) == ("completed", None, None)
    assert Activity.objects.filter(sequence=sequence, kind="completed").count() == 2


def test_moving_the_waiting_step_before_a_done_one_never_resends_the_done_one(abc, rep):
    """A done, waiting on B; B moves above A in a draft: published with the enrollments
    moved, the enrollment is still waiting on B (its own node), and A is not sent again
    because it is behind it in its path."""
    sequence, a, b, c = abc
    enrollment = waiting_on(b)[0]
    Step.objects.filter(pk=a.pk).update(delay_value=1)  # a step without delay must stay first

    step_service.step_move(tenant=sequence.tenant, step=b, position=1, actor=rep)
    version, _ = publish_moving(sequence, rep)

    enrollment.refresh_from_db()
    assert keys(sequence) == [b.key, a.key, c.key]
    new_b = Step.objects.get(version=version, key=b.key)
    assert enrollment.current_step_id == new_b.pk
    assert Activity.objects.get(enrollment=enrollment, kind="moved").step_id == new_b.pk


def test_a_step_moved_in_front_of_the_waiting_one_is_not_skipped_silently(abc, rep):
    """Waiting on B with A done; C moves above B: published, the enrollment stays at B,
    its own node, and reaches C after it (C is kept, never silently dropped)."""
    sequence, a, b, c = abc
    enrollment = waiting_on(b)[0]
    untouched = waiting_on(a)[0]

    step_service.step_move(tenant=sequence.tenant, step=c, position=2, actor=rep)
    version, _ = publish_moving(sequence, rep)

    enrollment.refresh_from_db()
    untouched.refresh_from_db()
    assert enrollment.current_step.key == b.key and enrollment.version_id == version.pk
    assert untouched.current_step.key == a.key


def test_the_publish_preview_tells_how_many_enrollments_move_and_where(abc, rep):
    sequence, a, b, c = abc
    Step.objects.filter(pk=b.pk).update(title="Case study")
    Step.objects.filter(pk=c.pk).update(title="Break-up")
    waiting_on(b, 3)
    step_service.step_delete(tenant=sequence.tenant, step=b, actor=rep)

    preview = versions.publish_preview(tenant=sequence.tenant, sequence=sequence)

    (group,) = preview.groups
    assert (group.key, group.count, group.kept, group.suggestion, group.mapped) == (b.key, 3, False, c.key, False)
    mapped = versions.publish_preview(tenant=sequence.tenant, sequence=sequence, node_map={b.key: c.key})
    assert mapped.groups[0].sentence == "3 contacts waiting at ‘Case study’ move to ‘Break-up’."
    assert mapped.moving == 3


def test_a_publish_that_moves_contacts_leaves_work_in_progress_on_its_version(abc, rep):
    sequence, a, b, c = abc
    busy = waiting_on(b, 1, waiting_on="approval", next_run_at=None)[0]
    step_service.step_delete(tenant=sequence.tenant, step=b, actor=rep)

    version, moved = versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep, move="map")

    busy.refresh_from_db()
    # No mapping was needed: the only contact at the removed step is mid-step and stays.
    assert (busy.current_step_id, busy.step_pass, busy.version.number) == (b.pk, 1, 1)
    assert Sequence.objects.get(pk=sequence.pk).current_version.number == 2 == version.number


def test_work_in_progress_stays_on_its_version_when_the_publish_does_not_move_anyone(abc, rep):
    sequence, a, b, c = abc
    busy = waiting_on(b, 1, waiting_on="approval", next_run_at=None)[0]
    step_service.step_move(tenant=sequence.tenant, step=c, position=2, actor=rep)  # A, C, B

    version, moved = versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep)

    busy.refresh_from_db()
    assert moved == 0 and version.number == 2
    assert (busy.current_step_id, busy.version.number, busy.version.state) == (b.pk, 1, "retired")


def test_a_step_without_delay_may_move_below_the_first_place(abc, rep):
    # A 0 delay after the first step means "right after the previous one" (a quick trial run).
    sequence, a, b, c = abc
    step_service.step_move(tenant=sequence.tenant, step=a, position=2, actor=rep)
    assert orders(sequence) == [(b.pk, 1), (a.pk, 2), (c.pk, 3)]


def test_other_tenants_cannot_edit_through_the_services(abc, other_tenant, rep):
    sequence, a, b, c = abc
    with pytest.raises(Sequence.DoesNotExist):
        step_service.step_delete(tenant=other_tenant, step=b, actor=rep)
    assert Step.objects.filter(pk=b.pk).exists()
    assert Enrollment.objects.count() == 0
