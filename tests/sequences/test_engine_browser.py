"""A rep follows one enrollment from the sequence's table to its timeline, in Chromium."""
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from .engine_helpers import due_enrollment, running_sequence, sweep_inline


@pytest.mark.browser
def test_a_rep_opens_an_enrollments_timeline_from_the_sequence_table(
    page, live_server, client, rep, tenant, other_tenant, output_path
):
    sequence, (first, *_) = running_sequence(tenant)
    now = timezone.now()
    enrollment = due_enrollment(sequence, first, at=now)
    outsider_sequence, (outsider_first, *_) = running_sequence(other_tenant)
    outsider = due_enrollment(outsider_sequence, outsider_first, at=now)
    sweep_inline(now=now)
    client.force_login(rep)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])

    page.goto(f"{live_server.url}/sequences/{sequence.pk}/enrollments/")
    expect(page.get_by_text(outsider.contact.email)).to_have_count(0)
    page.get_by_role("row", name=enrollment.contact.email).get_by_role("link", name="Timeline").click()

    expect(page).to_have_url(f"{live_server.url}/enrollments/{enrollment.pk}/")
    expect(page.get_by_role("heading", name="When does the next step go?")).to_be_visible()
    timeline = page.get_by_role("region", name="Timeline")
    expect(timeline.get_by_text("Step executed")).to_be_visible()
    expect(timeline.get_by_text("Step scheduled")).to_be_visible()
    # The messages table stays inside its card, and the priority control sits on the
    # line of the enrollment's facts.
    card = page.get_by_role("region", name="Messages").bounding_box()
    table = page.get_by_role("region", name="Messages").locator("table").bounding_box()
    assert table["x"] + table["width"] <= card["x"] + card["width"]
    facts = page.get_by_text("Enrolled ", exact=False).first.bounding_box()
    priority = page.get_by_label("priority").bounding_box()
    assert abs((priority["y"] + priority["height"] / 2) - (facts["y"] + facts["height"] / 2)) < facts["height"]
    page.screenshot(path=Path(output_path) / "enrollment-detail.png", full_page=True)
