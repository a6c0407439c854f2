"""The newcomer's walk, in Chromium, end to end: a rep builds a sequence from a template
and bulk-enrolls two contacts, one of them already active in another sequence (the page
says so and skips them); the manager approves the draft by keyboard; the email reaches a
real SMTP server signed once, and its links work on the port the app is served on."""
import re
import urllib.error
import urllib.request
from email.utils import parseaddr
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from approvals.models import ApprovalRequest
from messaging.services.delivery import deliver_due
from sequences.models import Enrollment, Sequence
from sequences.services.enrollments import enrollment_create
from tests.factories import AgentFactory, ContactFactory, SequenceFactory, StepFactory
from tests.sequences.engine_helpers import sweep_inline

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, client, live_server, user):
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(url):
    try:
        with urllib.request.build_opener(_NoRedirect).open(url) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _links(html):
    return re.findall(r'href="([^"]+)"', html) + re.findall(r'src="([^"]+)"', html)


def test_a_newcomer_builds_enrolls_gets_approved_and_the_mail_arrives_signed_once_with_working_links(
        page, browser, live_server, client, settings, tenant, other_tenant, rep, manager, mailbox, smtp_server,
        celery_eager, output_path):
    settings.SITE_URL = live_server.url  # what the served app is told about itself
    shots = Path(output_path)
    mailbox.signature = "Sam Seller\nSDR, Scendly"  # the demo's trap: a second person signing
    mailbox.save()
    AgentFactory(tenant=tenant, name="Nova the drafter", sender_name="Riley Sender",
                 sender_title="Account Executive", company_name="Scendly")
    webinar = SequenceFactory(tenant=tenant, name="Webinar intro", status="active", sender_profile=mailbox,
                              agent=AgentFactory(tenant=tenant, name="Webinar agent"))
    StepFactory(sequence=webinar, order=1, delay_value=3, delay_unit="days", job_type="initial_outreach")
    fresh = ContactFactory(tenant=tenant, first_name="Fresh", last_name="Lead", owner=rep,
                           email="fresh@globex.example", company="Globex")
    busy = ContactFactory(tenant=tenant, first_name="Busy", last_name="Person", owner=rep,
                          email="busy@initech.example")
    enrollment_create(tenant=tenant, sequence=webinar, contact=busy, actor=None)
    ContactFactory(tenant=other_tenant, first_name="Outsider", last_name="Lead")

    # The rep starts from a template, chooses agent and sender, activates.
    _log_in(page, client, live_server, rep)
    page.goto(f"{live_server.url}/sequences/")
    page.get_by_role("link", name="Templates").click()
    page.get_by_role("button", name="Use “Cold Outreach”").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cold Outreach")
    settings_panel = page.locator("#sequence-settings")
    settings_panel.get_by_label("Agent").select_option(label="Nova the drafter")
    settings_panel.get_by_label("Sender profile").select_option(label="Sam Seller <sam@scendly.example>")
    settings_panel.get_by_role("button", name="Save settings").click()
    expect(settings_panel.get_by_text("Settings saved.")).to_be_visible()
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("#sequence-header")).to_contain_text("Running")
    page.screenshot(path=shots / "1-sequence-from-template.png", full_page=True)
    cold = Sequence.objects.get(tenant=tenant, name="Cold Outreach")

    # Bulk enrollment: the contact already in "Webinar intro" is skipped, and says why.
    page.goto(f"{live_server.url}/contacts/")
    expect(page.locator("#contact-table")).not_to_contain_text("Outsider")
    for name in ("Fresh", "Busy"):
        page.get_by_label(re.compile(f"Select {name}")).check()
    page.select_option("#bulk-sequence", label="Cold Outreach")
    page.get_by_role("button", name="Enroll in sequence").click()
    result = page.locator(".enroll-result")
    expect(result).to_contain_text("active in another sequence 1")
    expect(page.locator('[data-count="enrolled"]')).to_have_text("1")
    page.screenshot(path=shots / "2-bulk-enroll-skips-the-busy-contact.png", full_page=True)
    assert list(Enrollment.objects.filter(sequence=cold).values_list("contact_id", flat=True)) == [fresh.pk]

    # The processor drafts the first step; it waits for review.
    sweep_inline(now=timezone.now())

    # The manager approves it with the keyboard.
    _log_in(page, client, live_server, manager)
    page.goto(f"{live_server.url}/approvals/")
    expect(page.locator("#approvals-count")).to_have_text("1")
    [draft] = ApprovalRequest.objects.filter(tenant=tenant, status="pending")
    card = page.locator(f"#approval-{draft.pk}")
    expect(card).to_contain_text("Fresh Lead")
    page.screenshot(path=shots / "3-approval-queue.png", full_page=True)
    page.keyboard.press("a")
    expect(page.get_by_text("Approved the draft for Fresh Lead.")).to_be_visible()
    expect(card).to_have_count(0)

    deliver_due(at=timezone.now())

    [received] = smtp_server.messages
    assert received["To"] == "fresh@globex.example"
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    signer = parseaddr(received["From"])[0]
    # Signed once, by the person the From line names: one line of the body is the
    # signer's name, near its end, and nobody else signs (the mailbox's own person).
    body = text.replace("\r\n", "\n").split("\n--\n")[0].rstrip().splitlines()
    assert signer and [line.strip() for line in body].count(signer) == 1, text
    assert signer in [line.strip() for line in body[-3:]], text
    others = {"Riley Sender", "Sam Seller"} - {signer}
    assert not any(other in text for other in others), text
    # Every link points at the app as served, and answers there.
    unsubscribe = re.search(r"<(http[^>]+/u/[^>]+)>", received["List-Unsubscribe"]).group(1)
    links = [unsubscribe] + [u for u in _links(html) if u.startswith("http")]
    assert links and all(u.startswith(live_server.url + "/") for u in links), links
    for url in links:
        assert _status(url) in (200, 302), url  # a tracked link redirects to its target
    page.goto(unsubscribe)
    expect(page.get_by_role("button", name=re.compile("Unsubscribe", re.I))).to_be_visible()
    page.screenshot(path=shots / "4-unsubscribe-link-from-the-mail.png", full_page=True)
    # The email itself, as a mail client would show it: in a context of its own, since
    # mail carries inline styles that the app's pages (rightly) refuse.
    reader = browser.new_context()
    try:
        mail_page = reader.new_page()
        mail_page.set_content(html)
        mail_page.screenshot(path=shots / "5-the-email-as-received.png", full_page=True)
    finally:
        reader.close()
