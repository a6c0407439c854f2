"""In Chromium: a manager in Tokyo reads a Los Angeles contact's card in the queue."""
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scendcore.models import Membership
from tests.factories import ContactFactory

from .builders import pending_approval
from .test_their_time import their_clocks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_queue_shows_a_los_angeles_contacts_own_clock_to_a_manager_in_tokyo(
        page, live_server, client, tenant, manager, output_path):
    Membership.objects.filter(user=manager, tenant=tenant).update(timezone="Asia/Tokyo")
    approval = pending_approval(tenant=tenant, contact=ContactFactory(
        tenant=tenant, first_name="Lena", last_name="West", timezone="America/Los_Angeles"))
    client.force_login(manager)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])

    before = timezone.now()
    page.goto(f"{live_server.url}/approvals/")
    card = page.locator(f"#approval-{approval.pk}")
    expect(card).to_be_visible()
    after = timezone.now()
    page.screenshot(path=Path(output_path) / "approvals-their-time.png", full_page=True)

    text = card.inner_text()
    assert any(clock in text for clock in their_clocks(before, after)), text
    expect(card).not_to_contain_text("America/Los_Angeles")
