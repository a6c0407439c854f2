"""The mailbox settings page and the Tasks page in a real browser."""
from pathlib import Path

import pytest
from django.utils import timezone

from messaging.models import Mailbox, Task
from messaging.services.tasks import task_create
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, client, live_server, user):
    client.force_login(user)
    page.context.add_cookies([{
        "name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url,
    }])


def test_an_admin_adds_a_mailbox_and_sends_a_test_email(page, client, live_server, admin, tenant, smtp_server, output_path):
    _login(page, client, live_server, admin)
    page.goto(f"{live_server.url}/settings/mailboxes/")
    page.get_by_role("link", name="Add mailbox").click()
    page.get_by_label("Name", exact=True).fill("Sales team")
    page.get_by_label("From name").fill("Sam Seller")
    page.get_by_label("From email").fill("sam@scendly.example")
    page.get_by_label("SMTP host").fill("127.0.0.1")
    page.get_by_label("SMTP port").fill(str(smtp_server.port))
    page.get_by_label("TLS", exact=True).select_option("none")
    page.get_by_label("SMTP password", exact=True).fill("never-shown")
    page.get_by_role("button", name="Create mailbox").click()

    page.get_by_role("button", name="Send test email").click()
    page.locator("#mailbox-test-result .flash-success").wait_for()
    shots = Path(output_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=shots / "mailbox-settings.png", full_page=True)

    assert "Test email sent to" in page.locator("#mailbox-test-result").inner_text()
    assert page.get_by_label("SMTP password", exact=True).input_value() == ""
    assert "never-shown" not in page.content()
    assert len(smtp_server.messages) == 1
    assert Mailbox.objects.get(tenant=tenant).smtp_port == smtp_server.port

    page.goto(f"{live_server.url}/settings/mailboxes/")
    page.screenshot(path=shots / "mailbox-list.png", full_page=True)
    assert "Sales team" in page.content()


def test_a_rep_completes_a_call_task_from_the_tasks_page(page, client, live_server, rep, tenant, output_path):
    sequence = SequenceFactory(tenant=tenant, status="active", name="Q3 outbound")
    call = StepFactory(sequence=sequence, channel="call_reminder", job_type="call_reminder")
    StepFactory(sequence=sequence, delay_value=2)
    for n, name in enumerate(["Pat Lee", "Sam Kim"]):
        first, last = name.split()
        contact = ContactFactory(tenant=tenant, first_name=first, last_name=last, company=f"Acme {n}",
                                 phone=f"+1415555010{n}")
        enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=contact, current_step=call,
                                       waiting_on="task")
        task_create(tenant=tenant, enrollment=enrollment, step=call, step_pass=1, owner=rep, contact=contact,
                    kind="call_reminder", title=f"Call {first} about the pilot",
                    talking_points="- They hired 3 SDRs last month\n- Ask about their Q3 targets",
                    due_at=timezone.now())
    _login(page, client, live_server, rep)

    page.goto(f"{live_server.url}/tasks/")
    shots = Path(output_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=shots / "tasks-open.png", full_page=True)
    card = page.locator("article.task", has_text="Call Pat about the pilot")
    card.get_by_label("Outcome (optional)").fill("Left a voicemail")
    card.get_by_role("button", name="Complete").click()
    page.locator("article.task", has_text="Call Pat").wait_for(state="detached")
    page.screenshot(path=shots / "tasks-after-complete.png", full_page=True)

    assert page.locator("article.task").count() == 1
    done = Task.objects.get(title="Call Pat about the pilot")
    assert done.status == "completed" and done.outcome_note == "Left a voicemail"
    done.enrollment.refresh_from_db()
    assert done.enrollment.current_step != call and done.enrollment.waiting_on == ""
