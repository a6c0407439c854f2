"""Task and call steps in the builder: their own form (title and instructions for the
rep, none of the email fields), the task they create, and finished tasks on the tasks page."""
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import Task
from sequences.models import Enrollment
from tests.factories import ContactFactory, SequenceFactory, StepFactory, TaskFactory, UserFactory

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
EMAIL_ONLY = ("job_type", "subject_template", "body_template", "angle", "cta", "value_proposition",
              "requires_human_approval")


def url(name, *args):
    return reverse(f"sequences:{name}", args=args)


def task_post(**overrides):
    return {"channel": "call_reminder", "delay_value": "2", "delay_unit": "days", **overrides}


@pytest.fixture
def sequence(tenant):
    sequence = SequenceFactory(tenant=tenant, name="Q3 outbound")
    StepFactory(sequence=sequence, order=1, delay_value=0, job_type="initial_outreach")
    return sequence


def test_the_builder_gives_task_and_call_steps_their_own_form(rep_client, sequence):
    response = rep_client.get(url("sequence-detail", sequence.pk))

    form = response.context["add_task_form"]
    assert {"channel", "title", "instructions", "delay_value", "delay_unit"} <= set(form.fields)
    assert not set(EMAIL_ONLY) & set(form.fields)
    assert [value for value, _ in form.fields["channel"].choices] == ["task", "call_reminder"]
    email_form = response.context["add_form"]
    assert [value for value, _ in email_form.fields["channel"].choices] == ["email", "sms"]
    page = response.content.decode()
    assert "Instructions for the rep" in page and 'name="instructions"' in page


def test_a_call_step_keeps_its_title_and_instructions_and_edits_in_the_same_form(rep_client, sequence):
    response = rep_client.post(url("step-add", sequence.pk), task_post(
        title="Check in with {{first_name}}", instructions="Ask whether {{company}} has budget for Q3."), **HX)

    assert response.status_code == 200
    step = sequence.steps.get(order=2)
    assert (step.channel, step.job_type, step.kind) == ("call_reminder", "call_reminder", "task")
    edit = rep_client.get(url("step-edit", sequence.pk, step.pk), **HX)
    form = edit.context["edit_form"]
    assert form["title"].value() == "Check in with {{first_name}}"
    assert form["instructions"].value() == "Ask whether {{company}} has budget for Q3."
    assert not set(EMAIL_ONLY) & set(form.fields)

    rep_client.post(url("step-edit", sequence.pk, step.pk), task_post(
        title="Call {{first_name}}", instructions="Offer two slots.", delay_value="3"), **HX)
    form = rep_client.get(url("step-edit", sequence.pk, step.pk), **HX).context["edit_form"]
    assert (form["title"].value(), form["instructions"].value(), form["delay_value"].value()) == (
        "Call {{first_name}}", "Offer two slots.", 3)


def test_invalid_task_step_input_is_shown_inline_in_the_task_form_with_422(rep_client, sequence):
    response = rep_client.post(url("step-add", sequence.pk), task_post(
        delay_value="-1", title="Hi {{nickname}}", instructions="Keep this"), **HX)

    page = response.content.decode()
    assert response.status_code == 422
    assert "can&#x27;t be negative" in page and "Unknown merge field {{nickname}}" in page
    assert "Keep this" in page and response.context["add_task_form"].errors
    assert sequence.steps.count() == 1


def test_the_outsider_cannot_add_a_task_step_to_our_sequence(outsider_client, sequence):
    response = outsider_client.post(url("step-add", sequence.pk), task_post(title="Call"))
    assert response.status_code == 404
    assert sequence.steps.count() == 1


def _run_task_step(tenant, **step_fields):
    sequence, (first, *_) = running_sequence(tenant, steps=1)
    for name, value in {"kind": "task", **step_fields}.items():
        setattr(first, name, value)
    first.save()
    contact = ContactFactory(tenant=tenant, owner=UserFactory(), first_name="Benjamin", last_name="Brown",
                             company="Globex")
    enrollment = due_enrollment(sequence, first, contact=contact)
    sweep_inline()
    Enrollment.objects.filter(pk=enrollment.pk).update(next_run_at=WEDNESDAY)
    sweep_inline()
    return Task.objects.get(enrollment=enrollment)


def test_the_created_task_shows_the_steps_title_and_instructions_for_this_contact(tenant):
    task = _run_task_step(tenant, channel="call_reminder", job_type="call_reminder",
                          subject_template="Check in with {{first_name}}",
                          body_template="Ask whether {{company}} has budget for Q3.")

    assert task.title == "Check in with Benjamin"
    assert task.talking_points.startswith("Instructions: Ask whether Globex has budget for Q3.")
    assert "Talking points for your call with Benjamin Brown" in task.talking_points


@pytest.mark.parametrize("channel, kind_word", [("call_reminder", "Call"), ("task", "Task")])
def test_a_default_task_title_does_not_repeat_the_kind_shown_next_to_it(tenant, rep_client, rep, channel,
                                                                        kind_word):
    task = _run_task_step(tenant, channel=channel, job_type=channel)
    Task.objects.filter(pk=task.pk).update(owner=rep)

    assert "Benjamin Brown" in task.title and not task.title.lower().startswith(kind_word.lower())
    page = rep_client.get("/tasks/").content.decode()
    card = re.search(rf'id="task-{task.pk}".*?</article>', page, re.S).group(0)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card))
    assert f"{kind_word} {task.title}" in text and f"{kind_word} {kind_word}" not in text


def test_done_shows_completed_and_skipped_tasks_and_marks_the_skipped_ones(rep_client, rep, tenant,
                                                                           other_tenant):
    now = timezone.now()
    TaskFactory(tenant=tenant, owner=rep, title="Called Pat", status="completed", completed_at=now)
    skipped = TaskFactory(tenant=tenant, owner=rep, title="Call Lee", status="skipped", completed_at=now,
                          outcome_note="Out of office")
    TaskFactory(tenant=tenant, owner=rep, title="Still open")
    TaskFactory(tenant=other_tenant, title="Their skipped task", status="skipped", completed_at=now)

    response = rep_client.get("/tasks/?status=done")

    assert [t.title for t in response.context["tasks"]] == ["Call Lee", "Called Pat"]
    page = response.content.decode()
    card = re.search(rf'id="task-{skipped.pk}".*?</article>', page, re.S).group(0)
    assert "badge-skipped" in card and "Skipped" in card and "Out of office" in card
    assert "Their skipped task" not in page and "Still open" not in page
