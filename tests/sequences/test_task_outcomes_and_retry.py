"""A task node's outcomes: the rep picks one on the tasks page, the enrollment follows that
outcome's path (any other completion: "next"), the outcome is kept on the task and in
the activity row. And a failed enrollment: its error on the enrollment page, with Retry."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import Task
from scendcore.models import AuditEntry
from sequences.models import Activity, Enrollment
from sequences.services.enrollments import enrollment_create
from tests.factories import ContactFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db
OUTCOMES = ["connected", "no answer", "wrong person"]


@pytest.fixture
def call_flow(tenant, rep):
    """call → (connected: demo email) (no answer: voicemail email) (else: the node below, breakup)."""
    sequence = SequenceFactory(tenant=tenant, status="active", owner=rep)
    call = StepFactory(sequence=sequence, key="call", channel="call_reminder", job_type="call_reminder",
                       title="Call {{first_name}}", config={"outcomes": OUTCOMES},
                       edges=[{"label": "connected", "to": "demo"}, {"label": "no answer", "to": "voicemail"}])
    StepFactory(sequence=sequence, key="breakup", job_type="follow_up", delay_value=5)
    StepFactory(sequence=sequence, key="demo", job_type="follow_up", delay_value=1)
    StepFactory(sequence=sequence, key="voicemail", job_type="follow_up", delay_value=2)
    return sequence, call


def waiting_task(sequence, contact=None):
    """Enroll and let the real processor create the call task the enrollment waits on."""
    from .engine_helpers import sweep_inline

    contact = contact or ContactFactory(tenant=sequence.tenant, owner=sequence.owner)
    enrollment = enrollment_create(tenant=sequence.tenant, sequence=sequence, contact=contact, actor=None)
    sweep_inline(now=timezone.now() + timedelta(minutes=1))
    enrollment.refresh_from_db()
    assert enrollment.waiting_on == "task"
    return enrollment, Task.objects.get(enrollment=enrollment)


def complete(client, task, **data):
    return client.post(reverse("messaging:task-complete", kwargs={"task_id": task.pk}), data, HTTP_HX_REQUEST="true")


def current_key(enrollment):
    enrollment.refresh_from_db()
    return enrollment.current_step.key if enrollment.current_step else None


def test_the_tasks_page_shows_the_nodes_outcomes_as_buttons(rep_client, call_flow):
    _, task = waiting_task(call_flow[0])

    page = rep_client.get("/tasks/").content.decode()

    for outcome in OUTCOMES:
        assert f'name="outcome" value="{outcome}"' in page


@pytest.mark.parametrize("outcome, path", [("connected", "demo"), ("no answer", "voicemail"),
                                           ("wrong person", "breakup"), ("", "breakup")])
def test_completing_with_an_outcome_follows_its_path(rep_client, call_flow, outcome, path):
    enrollment, task = waiting_task(call_flow[0])

    response = complete(rep_client, task, outcome=outcome, outcome_note="Spoke to Pat")

    assert response.status_code == 200
    assert current_key(enrollment) == path
    task.refresh_from_db()
    assert (task.status, task.outcome, task.outcome_note) == ("completed", outcome, "Spoke to Pat")
    executed = Activity.objects.get(enrollment=enrollment, kind="step_executed", step=call_flow[1])
    assert executed.detail == (f"Task completed with outcome “{outcome}”: Spoke to Pat" if outcome
                               else "Task completed: Spoke to Pat")


def test_an_outcome_the_node_does_not_define_is_refused_with_422(rep_client, call_flow):
    enrollment, task = waiting_task(call_flow[0])

    response = complete(rep_client, task, outcome="left voicemail")

    assert response.status_code == 422
    assert "is not an outcome of this task" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "open" and current_key(enrollment) == "call"


def test_the_plain_post_of_a_bad_outcome_is_a_422_page_too(rep_client, call_flow):
    _, task = waiting_task(call_flow[0])

    response = rep_client.post(reverse("messaging:task-complete", kwargs={"task_id": task.pk}), {"outcome": "maybe"})

    assert response.status_code == 422 and "is not an outcome of this task" in response.content.decode()


def test_an_outsider_cannot_complete_our_task(outsider_client, call_flow):
    enrollment, task = waiting_task(call_flow[0])

    response = complete(outsider_client, task, outcome="connected")

    assert response.status_code == 404
    task.refresh_from_db()
    assert task.status == "open" and current_key(enrollment) == "call"


# ---------------------------------------------------------------- failed, with Retry

@pytest.fixture
def failed(tenant):
    from .engine_helpers import due_enrollment, running_sequence, sweep_inline

    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    # A node of a kind no step type runs fails the enrollment visibly.
    type(first).objects.filter(pk=first.pk).update(kind="teleport")
    sweep_inline()
    type(first).objects.filter(pk=first.pk).update(kind="message")
    enrollment.refresh_from_db()
    assert enrollment.status == "failed"
    return enrollment


def test_a_failed_enrollment_shows_its_error_and_a_retry_button(rep_client, failed):
    page = rep_client.get(reverse("sequences:enrollment-detail", args=[failed.pk])).content.decode()

    assert "cannot be run (no step type is registered for it)" in page
    assert reverse("sequences:enrollment-retry", args=[failed.pk]) in page


def test_retry_runs_the_same_node_again_in_a_new_pass_due_now(rep_client, rep, failed):
    before, node = failed.step_pass, failed.current_step_id

    response = rep_client.post(reverse("sequences:enrollment-retry", args=[failed.pk]))

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.status, failed.exit_reason, failed.finished_at) == ("active", "", None)
    assert (failed.current_step_id, failed.step_pass) == (node, before + 1)
    assert abs(failed.next_run_at - timezone.now()) < timedelta(minutes=1)
    row = Activity.objects.filter(enrollment=failed).latest("id")
    assert (row.kind, row.actor_id) == ("resumed", rep.pk) and row.detail.startswith("Retried after the failure")
    assert AuditEntry.objects.filter(action="retried", object_id=str(failed.pk), actor=rep).exists()


def test_retry_of_an_enrollment_that_has_not_failed_is_refused(rep_client, tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=sequence)
    enrollment = enrollment_create(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant), actor=None)

    response = rep_client.post(reverse("sequences:enrollment-retry", args=[enrollment.pk]))

    assert response.status_code == 422
    assert Enrollment.objects.get(pk=enrollment.pk).step_pass == enrollment.step_pass


def test_an_outsider_cannot_see_or_retry_our_failed_enrollment(outsider_client, failed):
    assert outsider_client.get(reverse("sequences:enrollment-detail", args=[failed.pk])).status_code == 404
    assert outsider_client.post(reverse("sequences:enrollment-retry", args=[failed.pk])).status_code == 404
    failed.refresh_from_db()
    assert failed.status == "failed"
