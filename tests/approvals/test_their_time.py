"""The queue's "their time" is the contact's clock, labelled, whatever zone the viewer reads in."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from scendcore.models import Membership
from tests.factories import ContactFactory

from .builders import pending_approval

pytestmark = pytest.mark.django_db
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def their_clocks(before, after):
    """Every "HH:MM their time (Los Angeles, PST)" the page may show for a moment between
    `before` and `after` (the render can cross a minute)."""
    texts, moment = set(), before.replace(second=0, microsecond=0)
    while moment <= after:
        local = moment.astimezone(LOS_ANGELES)
        texts.add(f"{local:%H:%M} their time (Los Angeles, {local.tzname()})")
        moment += timedelta(minutes=1)
    return texts


def test_their_time_is_the_contacts_clock_for_a_viewer_in_another_zone(tenant, manager, manager_client):
    Membership.objects.filter(user=manager, tenant=tenant).update(timezone="Asia/Tokyo")
    approval = pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, timezone="America/Los_Angeles"))

    before = timezone.now()
    page = manager_client.get(reverse("approvals:queue")).content.decode()
    after = timezone.now()

    card = page[page.index(f'id="approval-{approval.pk}"'):]
    assert any(text in card for text in their_clocks(before, after)), card[:800]
    assert "America/Los_Angeles" not in card


def test_their_time_is_the_contacts_clock_for_a_viewer_on_the_workspace_zone(tenant, manager_client):
    approval = pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, timezone="America/Los_Angeles"))

    before = timezone.now()
    page = manager_client.get(reverse("approvals:queue")).content.decode()
    after = timezone.now()

    card = page[page.index(f'id="approval-{approval.pk}"'):]
    assert any(text in card for text in their_clocks(before, after)), card[:800]


def test_an_outsider_sees_no_card_of_ours(tenant, outsider_client):
    approval = pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, timezone="America/Los_Angeles"))
    page = outsider_client.get(reverse("approvals:queue")).content.decode()
    assert f'id="approval-{approval.pk}"' not in page
