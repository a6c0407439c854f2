"""Task and call-reminder steps: the service and the Tasks page."""
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from messaging.models import Task
from messaging.services.tasks import task_create
from sequences.services.tasks import task_complete, task_skip
from sequences.models import Activity
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(tenant, rep):
    sequence = SequenceFactory(tenant=tenant, status="active")
    call = StepFactory(sequence=sequence, channel="call_reminder", job_type="call_reminder")
    following = StepFactory(sequence=sequence, delay_value=2, delay_unit="days")
    contact = ContactFactory(tenant=tenant, owner=rep, first_name="Pat", last_name="Lee", company="Acme")
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=contact, current_step=call,
                                   waiting_on="task")
    task = task_create(
        tenant=tenant, enrollment=enrollment, step=call, step_pass=1, owner=rep, contact=contact,
        kind="call_reminder", title="Call Pat about the pilot", talking_points="- Ask about Q3 hiring\n- Offer a demo",
        due_at=timezone.now(),
    )
    return task, enrollment, following


def test_task_create_is_idempotent_per_enrollment_step_and_pass(tenant, rep, waiting):
    task, enrollment, _ = waiting
    again = task_create(tenant=tenant, enrollment=enrollment, step=task.step, step_pass=1, owner=rep,
                        contact=task.contact, kind="call_reminder", title="Different title", due_at=timezone.now())
    assert again.pk == task.pk and again.title == "Call Pat about the pilot"
    assert task.idempotency_key == f"{enrollment.pk}:{task.step_id}:1"
    other_pass = task_create(tenant=tenant, enrollment=enrollment, step=task.step, step_pass=2, owner=rep,
                             contact=task.contact, kind="call_reminder", title="Again", due_at=timezone.now())
    assert other_pass.pk != task.pk


def test_completing_a_task_advances_the_enrollment(tenant, rep, waiting, django_capture_on_commit_callbacks):
    task, enrollment, following = waiting

    with django_capture_on_commit_callbacks():
        task_complete(tenant=tenant, task=task, actor=rep, outcome_note="Left a voicemail")

    task.refresh_from_db(); enrollment.refresh_from_db()
    assert task.status == "completed" and task.outcome_note == "Left a voicemail" and task.completed_by == rep
    assert enrollment.current_step == following and enrollment.waiting_on == ""
    assert enrollment.next_run_at is not None
    executed = Activity.objects.get(enrollment=enrollment, kind="step_executed")
    assert "Left a voicemail" in executed.detail


def test_completing_a_task_asks_for_a_sweep_once_it_commits(tenant, rep, waiting, kicks,
                                                           django_capture_on_commit_callbacks):
    task, enrollment, _ = waiting

    with django_capture_on_commit_callbacks(execute=True):
        task_complete(tenant=tenant, task=task, actor=rep, outcome_note="")
        assert kicks == []  # nothing before the commit

    assert kicks == ["sweep"]


def test_skipping_a_task_records_a_skip_and_advances(tenant, rep, waiting):
    task, enrollment, following = waiting
    task_skip(tenant=tenant, task=task, actor=rep, reason="No phone number")
    enrollment.refresh_from_db()
    assert enrollment.current_step == following
    assert Activity.objects.filter(enrollment=enrollment, kind="step_skipped", detail__contains="No phone").exists()


def test_a_task_cannot_be_finished_twice(tenant, rep, waiting):
    task, enrollment, _ = waiting
    task_complete(tenant=tenant, task=task, actor=rep)
    with pytest.raises(ValidationError):
        task_skip(tenant=tenant, task=task, actor=rep)
    assert Activity.objects.filter(enrollment=enrollment, kind__in=["step_executed", "step_skipped"]).count() == 1


def test_a_stale_task_closes_without_moving_the_enrollment(tenant, rep, waiting):
    task, enrollment, following = waiting
    enrollment.current_step = following
    enrollment.save()
    task_complete(tenant=tenant, task=task, actor=rep)
    enrollment.refresh_from_db()
    assert enrollment.current_step == following
    assert not Activity.objects.filter(enrollment=enrollment, kind="step_executed").exists()


def test_the_tasks_page_lists_my_open_tasks_with_talking_points(rep_client, waiting):
    response = rep_client.get("/tasks/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Call Pat about the pilot" in body and "Ask about Q3 hiring" in body and "Acme" in body


def test_talking_points_are_escaped(rep_client, waiting):
    task, _, _ = waiting
    Task.objects.filter(pk=task.pk).update(talking_points="<script>alert('x')</script>")
    body = rep_client.get("/tasks/").content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;" in body


def test_completing_from_the_page_with_htmx_rerenders_the_list(rep_client, waiting):
    task, enrollment, following = waiting
    response = rep_client.post(f"/tasks/{task.pk}/complete/", {"outcome_note": "Booked a call"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="task-list"' in response.content.decode() and "<html" not in response.content.decode()
    task.refresh_from_db(); enrollment.refresh_from_db()
    assert task.status == "completed" and enrollment.current_step == following


def test_completing_without_javascript_redirects_back(rep_client, waiting):
    task, _, _ = waiting
    response = rep_client.post(f"/tasks/{task.pk}/skip/", {"outcome_note": ""})
    assert response.status_code == 302 and response["Location"] == "/tasks/"
    task.refresh_from_db()
    assert task.status == "skipped"


def test_a_rep_does_not_see_or_touch_another_reps_task(client, tenant, waiting):
    from scendcore.models import Role
    from tests.factories import MembershipFactory, UserFactory

    task, _, _ = waiting
    colleague = UserFactory()
    MembershipFactory(user=colleague, tenant=tenant, role=Role.REP)
    client.force_login(colleague)
    assert "Call Pat" not in client.get("/tasks/").content.decode()
    assert client.post(f"/tasks/{task.pk}/complete/").status_code == 404


def test_a_manager_sees_the_team_view(manager_client, waiting):
    assert "Call Pat about the pilot" not in manager_client.get("/tasks/").content.decode()
    assert "Call Pat about the pilot" in manager_client.get("/tasks/?scope=team").content.decode()


def test_the_outsider_gets_404_for_our_tasks(outsider_client, waiting):
    task, _, _ = waiting
    assert "Call Pat" not in outsider_client.get("/tasks/?scope=team").content.decode()
    assert outsider_client.post(f"/tasks/{task.pk}/complete/").status_code == 404
    assert outsider_client.post(f"/tasks/{task.pk}/skip/").status_code == 404
    task.refresh_from_db()
    assert task.status == "open"


def test_the_tasks_page_does_not_query_per_task(manager_client, tenant, rep, waiting):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get("/tasks/?scope=team").status_code == 200
        return len(captured)

    one = queries()
    for n in range(3):
        sequence = SequenceFactory(tenant=tenant, status="active")
        step = StepFactory(sequence=sequence, channel="task", job_type="task")
        contact = ContactFactory(tenant=tenant, owner=rep)
        enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=contact, current_step=step)
        task_create(tenant=tenant, enrollment=enrollment, step=step, step_pass=1, owner=rep, contact=contact,
                    kind="task", title=f"Task {n}")
    assert queries() == one
