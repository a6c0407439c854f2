"""A mailbox paused by the circuit breaker, seen and resumed by an admin in Chromium."""
from pathlib import Path

import pytest
from django.utils import timezone

from messaging.models import Mailbox
from tests.factories import MailboxFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_an_admin_follows_the_banner_and_resumes_the_mailbox(page, live_server, client, tenant, admin, output_path):
    mailbox = MailboxFactory(tenant=tenant, from_email="sam@scendly.example", status="paused", paused_at=timezone.now(),
                             pause_reason="complaint rate 0.50 % over the last 400 sends (limit 0.30 %)")
    _login(page, live_server, client, admin)

    page.goto(f"{live_server.url}/")
    banner = page.locator("#paused-mailboxes")
    assert "Sending paused for sam@scendly.example: complaint rate 0.50 %" in banner.inner_text()
    banner.get_by_role("link", name="Review and resume").click()
    page.locator("#mailbox-paused").wait_for()
    page.screenshot(path=Path(output_path) / "mailbox-paused.png", full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resume sending").click()
    page.wait_for_selector("#mailbox-paused", state="detached")

    mailbox.refresh_from_db()
    assert mailbox.status == "active" and mailbox.reputation_since is not None
    assert page.locator("#paused-mailboxes").count() == 0
    assert Mailbox.objects.filter(tenant=tenant, status="paused").count() == 0
