"""Pages work under the Content-Security-Policy, and a violation fails the test that
causes it (the shared `context` fixture in tests/conftest.py collects them)."""
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule
from playwright.sync_api import expect

from scendcore.management.commands.seed_demo import DEMO_PASSWORD
from scendcore.models import Tenant
from sequences.models import Enrollment
from tests.waiting import wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db, celery_eager):
    call_command("seed_demo", verbosity=0, stdout=open("/dev/null", "w"))


def _log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/")


def _reported(page, csp_violations, directive):
    page.evaluate("0")  # lets the browser's reports reach the test
    return [v for v in csp_violations if v.get("directive") == directive]


def test_an_inline_script_or_style_is_blocked_and_reported(demo, live_server, page, csp_violations):
    _log_in(page, live_server, "demo-rep")

    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.head.append(script);
        document.body.insertAdjacentHTML("beforeend", '<div id="styled" style="color: rgb(255, 0, 0)">x</div>');
    }""")

    assert wait_for(lambda: _reported(page, csp_violations, "script-src-elem"), what="the inline script's report")
    assert wait_for(lambda: _reported(page, csp_violations, "style-src-attr"), what="the inline style's report")
    assert page.evaluate("window.inlineRan === undefined")
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    csp_violations.clear()  # provoked on purpose; anything else still fails at teardown


def test_the_app_and_the_admin_work_under_the_policy(demo, live_server, page, output_path):
    _log_in(page, live_server, "demo-admin")
    for path in ("/", "/sequences/", "/contacts/", "/lists/", "/approvals/", "/tasks/", "/messages/",
                 "/settings/", "/settings/agents/", "/contacts/import/", "/settings/mailboxes/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("progress.progress").first).to_be_visible()  # the mailbox usage bars
    page.screenshot(path=Path(output_path, "mailboxes-under-csp.png"), full_page=True)

    # An htmx search swaps the contacts table in place.
    page.goto(f"{live_server.url}/contacts/")
    page.get_by_label("Search").fill("zzz-nobody")
    expect(page.get_by_text("No contacts match this filter.")).to_be_visible()

    # The priority select submits itself (its handler lives in app.js now).
    enrollment = Enrollment.objects.filter(sequence__tenant__slug="acme-outbound").order_by("pk").first()
    page.goto(f"{live_server.url}/enrollments/{enrollment.pk}/")
    page.locator("#enrollment-priority").select_option(label="Critical")
    expect(page.get_by_text("Priority saved.")).to_be_visible()
    enrollment.refresh_from_db()
    assert enrollment.priority == 3

    # The Django admin: index, a change list with its actions, a change form, the periodic task form.
    tenant = Tenant.objects.get(slug="acme-outbound")
    for path in ("/admin/", "/admin/contacts/contact/", f"/admin/scendcore/tenant/{tenant.pk}/change/",
                 "/admin/django_celery_beat/periodictask/add/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
    expect(page.locator(".field-crontab_translation")).to_be_hidden()
    # Choosing a crontab shows it in words under the field (static/js/admin-periodic-task.js).
    crontab = CrontabSchedule.objects.create(minute="30", hour="4", day_of_week="*", day_of_month="*",
                                             month_of_year="*")
    page.reload()
    page.locator("#id_crontab").select_option(value=str(crontab.pk))
    expect(page.locator(".field-crontab .help")).to_contain_text(f"Translation: {crontab.human_readable}")
    page.screenshot(path=Path(output_path, "admin-periodic-task-under-csp.png"), full_page=True)
