"""A manager works the approval queue in Chromium: filter, edit, approve by keyboard."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from approvals.models import ApprovalDecision
from tests.factories import ContactFactory, SequenceFactory, StepFactory

from .builders import pending_approval

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, client, live_server, user):
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


def test_a_manager_filters_edits_and_approves_a_draft_with_the_keyboard(
        page, live_server, client, tenant, manager, output_path, celery_to_broker):
    email_seq = SequenceFactory(tenant=tenant, name="Cold outreach Q3")
    sms_seq = SequenceFactory(tenant=tenant, name="SMS nudges")
    email = pending_approval(
        tenant=tenant, step=StepFactory(sequence=email_seq, angle="their hiring plan", cta="a 15-minute call"),
        contact=ContactFactory(tenant=tenant, first_name="Dana", last_name="Lee", company="Globex", title="VP Sales"),
        subject="Idea for Globex", body="Hi Dana,\n\nI saw Globex is hiring SDRs.\n\nBest,\nSam")
    sms = pending_approval(tenant=tenant, step=StepFactory(sequence=sms_seq, channel="sms"), channel="sms",
                           subject="", body="Hi Lee, quick one from Scendly.")
    _log_in(page, client, live_server, manager)

    page.goto(f"{live_server.url}/approvals/")
    expect(page.locator("#approvals-count")).to_have_text("2")
    page.screenshot(path=Path(output_path) / "approvals-queue.png", full_page=True)

    page.select_option("#f-channel", "email")
    expect(page.locator(f"#approval-{sms.pk}")).to_have_count(0)
    expect(page.locator(f"#approval-{email.pk}")).to_be_visible()
    assert "channel=email" in page.url

    page.keyboard.press("Escape")
    page.keyboard.press("e")
    expect(page.locator(f"#body-{email.pk}")).to_be_focused()
    subject = page.locator(f"#subject-{email.pk}")
    subject.fill("Globex + Scendly: hiring idea")
    expect(page.locator(f"#approval-{email.pk} [data-approve]")).to_have_text("Edit & approve")
    page.screenshot(path=Path(output_path) / "approvals-editing.png", full_page=True)
    page.keyboard.press("Escape")
    page.keyboard.press("a")

    expect(page.locator(f"#approval-{email.pk}")).to_have_count(0)
    expect(page.get_by_text("Approved the draft for Dana Lee.")).to_be_visible()
    expect(page.locator("#approvals-count")).to_have_text("1")
    page.screenshot(path=Path(output_path) / "approvals-after-approve.png", full_page=True)
    decision = ApprovalDecision.objects.get(request=email)
    assert (decision.kind, decision.actor_id, decision.subject_after) == (
        "edited_approved", manager.pk, "Globex + Scendly: hiring idea")


def test_a_rep_sees_their_contacts_draft_but_cannot_approve_it(page, live_server, client, tenant, rep, output_path):
    mine = pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, owner=rep, first_name="Riley"),
                            subject="Draft for Riley")
    _log_in(page, client, live_server, rep)

    page.goto(f"{live_server.url}/approvals/")
    card = page.locator(f"#approval-{mine.pk}")
    expect(card).to_be_visible()
    expect(card.get_by_text("approving it is up to a manager")).to_be_visible()
    expect(card.locator("[data-approve]")).to_have_count(0)
    card.focus()
    page.keyboard.press("a")
    page.screenshot(path=Path(output_path) / "approvals-rep-view.png", full_page=True)
    mine.refresh_from_db()
    assert mine.status == "pending"
