"""What a rep reads in the builder and on a contact's page, in Chromium: every option of
every select is readable in full, and the contact's timeline follows an enrollment."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import ContactFactory, SequenceFactory, StepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The widest option text of each select, measured with the select's own font, against
# the room the select gives its text (its width less padding and the arrow).
CLIPPED_OPTIONS = """() => {
  const canvas = document.createElement("canvas").getContext("2d");
  const clipped = [];
  for (const select of document.querySelectorAll("select")) {
    if (!select.offsetParent) continue;  // not shown
    const style = getComputedStyle(select);
    canvas.font = style.font;
    const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
    for (const option of select.options) {
      if (canvas.measureText(option.text).width > room) clipped.push(`${select.name}: ${option.text}`);
    }
  }
  return clipped;
}"""


def _login(page, live_server, client, user):
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])


@pytest.mark.parametrize("width", [1280, 1024])
def test_every_option_of_every_select_in_the_builder_is_readable(page, live_server, client, tenant, rep,
                                                                 output_path, width):
    sequence = SequenceFactory(tenant=tenant, name="Q3 outbound")
    StepFactory(sequence=sequence, order=1, delay_value=0)
    _login(page, live_server, client, rep)
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(f"{live_server.url}/sequences/{sequence.pk}/")
    page.locator("#add-step > summary").click()
    page.locator("#add-task-step > summary").click()
    page.locator("#add-goal > summary").click()
    expect(page.get_by_label("Re-enrollment")).to_be_visible()

    page.screenshot(path=Path(output_path) / f"builder-selects-{width}.png", full_page=True)
    assert page.evaluate(CLIPPED_OPTIONS) == []


def test_the_contact_timeline_shows_the_enrollment_right_after_enroll(page, live_server, client, tenant, rep,
                                                                      output_path):
    sequence = SequenceFactory(tenant=tenant, status="active", name="Q3 Warm Leads")
    StepFactory(sequence=sequence, order=1, delay_value=1)
    contact = ContactFactory(tenant=tenant, first_name="Benjamin", last_name="Brown", owner=rep)
    _login(page, live_server, client, rep)

    page.goto(f"{live_server.url}/contacts/{contact.pk}/")
    timeline = page.locator("#contact-timeline")
    expect(timeline).to_contain_text("Nothing has happened yet.")
    page.select_option("#enroll-sequence", label="Q3 Warm Leads")
    page.get_by_role("button", name="Enroll").click()

    expect(page.locator("#contact-enrollments")).to_contain_text("Enrolled in “Q3 Warm Leads”.")
    expect(timeline).to_contain_text("Enrolled")
    expect(timeline).to_contain_text("Q3 Warm Leads")
    expect(timeline).not_to_contain_text("Nothing has happened yet.")
    page.screenshot(path=Path(output_path) / "contact-timeline-after-enroll.png", full_page=True)
