"""Keyboard review keeps its place: after a decision the next card is the current one, `e`
puts the caret at the end of the text, and the bulk bar selects all with a count and asks
before it approves."""
import re

import pytest
from playwright.sync_api import expect

from tests.factories import ContactFactory

from .builders import pending_approval

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CURRENT = re.compile(r"\bis-current\b")


def _log_in(page, client, live_server, user):
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


def _queue(tenant, *names):
    return [pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, first_name=name, last_name="Lee"),
                             subject=f"Idea for {name}", body=f"Hi {name},\n\nA short note.\n\nBest,\nSam")
            for name in names]


def _caret(locator):
    return locator.evaluate("el => [el.selectionStart, el.selectionEnd, el.value.length]")


def test_after_approve_and_reject_the_next_card_is_highlighted_and_focused(
        page, live_server, client, tenant, manager, celery_to_broker):
    first, second, third = _queue(tenant, "Ana", "Ben", "Cy")
    _log_in(page, client, live_server, manager)
    page.goto(f"{live_server.url}/approvals/")
    expect(page.locator(f"#approval-{first.pk}")).to_have_class(CURRENT)

    page.locator(f"#approval-{first.pk}").focus()
    page.keyboard.press("a")
    expect(page.locator(f"#approval-{first.pk}")).to_have_count(0)
    expect(page.locator(f"#approval-{second.pk}")).to_have_class(CURRENT)
    expect(page.locator(f"#approval-{second.pk}")).to_be_focused()

    page.keyboard.press("r")
    reason = page.locator(f"#reason-{second.pk}")
    expect(reason).to_be_focused()
    reason.press_sequentially("Not now")
    reason.press("Enter")
    expect(page.locator(f"#approval-{second.pk}")).to_have_count(0)
    expect(page.locator(f"#approval-{third.pk}")).to_have_class(CURRENT)
    expect(page.locator(f"#approval-{third.pk}")).to_be_focused()
    expect(page.locator(".approval-card.is-current")).to_have_count(1)


def test_e_puts_the_caret_at_the_end_of_the_body_or_of_the_field_being_edited(
        page, live_server, client, tenant, manager):
    [approval] = _queue(tenant, "Ana")
    _log_in(page, client, live_server, manager)
    page.goto(f"{live_server.url}/approvals/")
    page.locator(f"#approval-{approval.pk}").focus()

    page.keyboard.press("e")
    body = page.locator(f"#body-{approval.pk}")
    expect(body).to_be_focused()
    end = len(body.input_value())
    assert _caret(body) == [end, end, end]

    subject = page.locator(f"#subject-{approval.pk}")
    subject.click()
    subject.press("Home")
    subject.press_sequentially("Re: ")
    page.keyboard.press("Escape")
    expect(subject).not_to_be_focused()
    page.keyboard.press("e")
    expect(subject).to_be_focused()
    assert subject.input_value() == "Re: Idea for Ana"
    assert _caret(subject) == [16, 16, 16]


def test_select_all_counts_the_drafts_and_bulk_approve_asks_first(
        page, live_server, client, tenant, other_tenant, manager, celery_to_broker):
    drafts = _queue(tenant, "Ana", "Ben", "Cy")
    [theirs] = _queue(other_tenant, "Outsider")
    _log_in(page, client, live_server, manager)
    page.goto(f"{live_server.url}/approvals/")
    count = page.locator("#bulk-count")
    expect(count).to_have_text("0 selected")

    page.get_by_label("Select all on this page").check()
    expect(count).to_have_text("3 selected")
    page.get_by_label("Select the draft for Ben Lee").uncheck()
    expect(count).to_have_text("2 selected")
    assert page.get_by_label("Select all on this page").evaluate("el => el.indeterminate") is True

    # The keyboard does the same: x toggles the current card, Shift+X all of them.
    page.locator(f"#approval-{drafts[1].pk}").focus()
    page.keyboard.press("x")
    expect(count).to_have_text("3 selected")
    page.keyboard.press("Shift+X")
    expect(count).to_have_text("0 selected")
    page.keyboard.press("Shift+X")
    expect(count).to_have_text("3 selected")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".approval-card")).to_have_count(3)
    assert asked == ["Approve 3 selected drafts?"]

    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".approval-card")).to_have_count(0)
    expect(page.get_by_text("Approved 3 drafts.")).to_be_visible()
    theirs.refresh_from_db()
    assert theirs.status == "pending"
