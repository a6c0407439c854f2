import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from scendcore.management.commands.seed_demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(transactional_db, celery_eager):
    call_command("seed_demo", verbosity=0, stdout=open("/dev/null", "w"))


def _log_in(page, live_server, username):
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_the_demo_rep_logs_in_lands_on_the_dashboard_and_navigates(demo, live_server, page, output_path):
    _log_in(page, live_server, "demo-rep")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Welcome, Riley")).to_be_visible()
    expect(page.locator("#my-active-enrollments")).to_be_visible()
    expect(page.get_by_text("Acme Outbound").first).to_be_visible()
    page.screenshot(path=Path(output_path, "dashboard.png"), full_page=True)

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Contacts").click()
    expect(page).to_have_url(re.compile(r"/contacts/$"))
    expect(nav.get_by_role("link", name="Contacts")).to_have_attribute("aria-current", "page")
    page.screenshot(path=Path(output_path, "contacts.png"), full_page=True)

    nav.get_by_role("link", name="Sequences").click()
    expect(page).to_have_url(re.compile(r"/sequences/$"))
    expect(page.get_by_role("heading", name="Sequences", exact=True)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_the_demo_admin_saves_settings_and_switches_workspace(demo, live_server, page, output_path):
    _log_in(page, live_server, "demo-admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_label("Name")).to_have_value("Acme Outbound")
    page.get_by_label("Window closes").fill("08:00")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#id_default_window_end_errors")).to_contain_text("close after it opens")
    page.screenshot(path=Path(output_path, "settings-invalid.png"), full_page=True)

    page.get_by_label("Window closes").fill("17:30")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    page.get_by_label("Workspace").select_option(label="Globex Demo")
    expect(page.get_by_text("Switched to Globex Demo.")).to_be_visible()
    page.screenshot(path=Path(output_path, "globex-dashboard.png"), full_page=True)
