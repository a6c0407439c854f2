"""A rep goes from an empty workspace to an active multi-step sequence in Chromium."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sequences.models import Sequence
from tests.browser.htmx import settled
from tests.factories import AgentFactory, MailboxFactory


@pytest.mark.browser
def test_rep_builds_and_activates_a_sequence_from_the_cold_outreach_template(
    page, live_server, client, rep, tenant, output_path
):
    AgentFactory(tenant=tenant, name="Nova the drafter")
    MailboxFactory(tenant=tenant, name="Sales inbox", from_name="Rita Rep", from_email="rita@acme.example")
    client.force_login(rep)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])

    page.goto(f"{live_server.url}/sequences/")
    expect(page.get_by_text("Start with a proven cadence")).to_be_visible()
    page.get_by_role("button", name="Use “Cold Outreach”").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cold Outreach")
    timeline = page.locator("#sequence-timeline")
    expect(timeline.locator("li.seq-step")).to_have_count(3)

    # Add a fourth step: a call reminder two days after the last email.
    page.locator("#add-task-step > summary").click()
    page.locator("#newtask_channel").select_option("call_reminder")
    page.locator("#newtask_delay_value").fill("2")
    page.locator("#add-task-step").get_by_label("Instructions for the rep").fill("Follow up on the emails")
    page.get_by_role("button", name="Add task step").click()
    expect(timeline.get_by_text("Step 4 added.")).to_be_visible()
    expect(timeline.locator("li.seq-step")).to_have_count(4)

    # Move it up with the keyboard: focus the button and press Enter.
    settled(page)
    move_up = page.get_by_role("button", name="Move step 4 up")
    move_up.focus()
    page.keyboard.press("Enter")
    expect(timeline.get_by_text("Step moved to position 3.")).to_be_visible()
    expect(timeline.locator("li.seq-step").nth(2)).to_contain_text("Call reminder for the rep")

    # Give the moved step a send window.
    page.get_by_role("link", name="Edit step 3").click()
    editor = timeline.locator("form.step-form").first
    expect(editor.get_by_role("heading", name="Edit step 3")).to_be_visible()
    editor.get_by_label("Send only inside a window").check()
    editor.get_by_label("From").fill("08:30")
    editor.get_by_label("Until").fill("16:00")
    editor.get_by_role("button", name="Save step").click()
    expect(timeline.get_by_text("Step 3 saved.")).to_be_visible()
    expect(timeline.locator("li.seq-step").nth(2)).to_contain_text("8:30–16:00 recipient time")

    # Activation is refused until an agent and a sender are chosen.
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#activation-problems")).to_contain_text("Choose the agent")
    settings = page.locator("#sequence-settings")
    settings.get_by_label("Agent").select_option(label="Nova the drafter")
    settings.get_by_label("Sender profile").select_option(label="Rita Rep <rita@acme.example>")
    settings.get_by_role("button", name="Save settings").click()
    expect(settings.get_by_text("Settings saved.")).to_be_visible()
    expect(page.locator("#activation-checklist")).to_contain_text("Ready to activate")

    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#sequence-header")).to_contain_text("Running: enrolled contacts receive the steps")
    expect(page.locator("#sequence-header .badge-active")).to_be_visible()
    expect(timeline).to_contain_text(re.compile(r"Day 0\s+at enrollment — Initial outreach by email"))
    expect(timeline).to_contain_text("+3 days, weekdays only")
    page.screenshot(path=Path(output_path) / "sequence-builder-active.png", full_page=True)

    sequence = Sequence.objects.get(tenant=tenant)
    assert sequence.status == "active" and sequence.steps.count() == 4
    assert list(sequence.steps.order_by("order").values_list("channel", flat=True)) == [
        "email", "email", "call_reminder", "email"]


@pytest.mark.browser
def test_searching_the_sequences_page_narrows_the_cards_as_you_type(
    page, live_server, client, rep, tenant, output_path
):
    from sequences.services.sequences import sequence_create_from_template

    for key in ("cold_outreach", "webinar_promo", "saas_trial"):
        sequence_create_from_template(tenant=tenant, key=key, actor=rep)
    client.force_login(rep)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])

    page.goto(f"{live_server.url}/sequences/")
    cards = page.locator("#sequence-cards article")
    expect(cards).to_have_count(3)
    page.get_by_label("Search by name").fill("webin")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Webinar Promo")
    expect(page).to_have_url(re.compile(r"q=webin"))
    page.get_by_label("Search by name").fill("")
    expect(cards).to_have_count(3)
    page.screenshot(path=Path(output_path) / "sequences-list.png", full_page=True)
