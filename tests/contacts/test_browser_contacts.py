"""Contacts, bulk enrollment and CSV import driven in Chromium."""
import re
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import ContactFactory, SequenceFactory, StepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_filter_select_and_bulk_enroll_then_read_the_counts(page, live_server, client, tenant, rep, output_path):
    sequence = SequenceFactory(tenant=tenant, status="active", name="Q3 Warm Leads")
    StepFactory(sequence=sequence, delay_value=1)
    for i in range(3):
        ContactFactory(tenant=tenant, first_name=f"Warm{i}", last_name="Prospect", score_band="warm", owner=rep)
    ContactFactory(tenant=tenant, first_name="Blocked", last_name="Prospect", score_band="warm", do_not_contact=True,
                   owner=rep)
    ContactFactory(tenant=tenant, first_name="Icy", last_name="Cold", score_band="cold", owner=rep)
    _login(page, live_server, client, rep)

    page.goto(f"{live_server.url}/contacts/")
    page.select_option("#id_score", "warm")
    page.wait_for_url(re.compile(r"score=warm"))
    rows = page.locator("#contact-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == 4 and "Icy" not in page.inner_text("#contact-table")

    for name in ("Warm0", "Warm1", "Blocked"):
        page.get_by_label(re.compile(f"Select {name}")).check()
    assert page.inner_text("#selected-count") == "3"
    page.select_option("#bulk-sequence", label="Q3 Warm Leads")
    page.get_by_role("button", name="Enroll in sequence").click()
    result = page.locator(".enroll-result")
    result.wait_for()
    page.screenshot(path=Path(output_path) / "contacts-bulk-enroll.png", full_page=True)

    assert page.inner_text('[data-count="enrolled"]') == "2"
    assert page.inner_text('[data-count="already"]') == "0"
    assert page.inner_text('[data-count="skipped"]') == "1"
    assert "do-not-contact 1" in result.inner_text()

    # "Select all 4 matching" re-applies the filter on the server: 2 new are already in.
    page.check("#select-all-matching")
    page.select_option("#bulk-sequence", label="Q3 Warm Leads")
    page.get_by_role("button", name="Enroll in sequence").click()
    # All matching is asked about first, with the number.
    page.get_by_role("button", name="Yes, enroll 4").click()
    # A locator waits without eval (wait_for_function's string would need 'unsafe-eval').
    expect(page.locator('[data-count="already"]')).to_have_text("2")
    assert page.inner_text('[data-count="enrolled"]') == "1"


def test_import_a_csv_with_bad_rows_and_read_the_report(page, live_server, client, tenant, rep, output_path):
    ContactFactory(tenant=tenant, email="existing@example.com", unsubscribed_at=timezone.now())
    csv_text = (
        "Email,First Name,Company,Phone,Timezone\n"
        "ann@example.com,Ann,Acme,+1 (415) 555-0100,America/New_York\n"
        "nope,Bob,Acme,,\n"
        "cat@example.com,Cat,Acme,555,\n"
        "ann@example.com,Ann again,Acme,,\n"
        "dan@example.com,Dan,Acme,,Moon/Base\n"
        "existing@example.com,Eve,Acme,,\n"
    )
    _login(page, live_server, client, rep)

    page.goto(f"{live_server.url}/contacts/import/")
    page.set_input_files("input[type=file]", files=[{"name": "leads.csv", "mimeType": "text/csv",
                                                     "buffer": csv_text.encode()}])
    page.get_by_role("button", name="Upload and map columns").click()
    page.wait_for_selector("table.mapping")
    assert page.input_value("#col_0") == "email" and page.input_value("#col_3") == "phone"
    page.screenshot(path=Path(output_path) / "import-mapping.png", full_page=True)
    page.get_by_role("button", name=re.compile("Import 6 rows")).click()

    page.wait_for_selector("#rejected-rows")
    page.screenshot(path=Path(output_path) / "import-report.png", full_page=True)
    assert page.inner_text("#count-created") == "1"
    assert page.inner_text("#count-skipped") == "1"
    assert page.inner_text("#count-rejected") == "4"
    report = {row.split("\t")[0]: row for row in page.inner_text("#rejected-rows tbody").splitlines()}
    assert sorted(report) == ["3", "4", "5", "6"]
    assert "invalid email" in report["3"] and "phone" in report["4"]
    assert "line 2" in report["5"] and "timezone" in report["6"]
    assert page.get_by_role("link", name=re.compile("Download all 4 rejected rows")).is_visible()


def test_past_the_count_cap_select_all_counts_the_matches_when_ticked(page, live_server, client, tenant,
                                                                     other_tenant, manager, monkeypatch):
    from contacts.views import contacts as contact_views
    from scendcore import paging

    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    monkeypatch.setattr(contact_views, "PAGE_SIZE", 2)
    for i in range(5):
        ContactFactory(tenant=tenant, first_name=f"Hot{i}", score_band="hot")
    ContactFactory(tenant=other_tenant, score_band="hot")
    _login(page, live_server, client, manager)

    page.goto(f"{live_server.url}/contacts/?score=hot")
    expect(page.locator("#bulk-form")).to_contain_text("Select all 3+ matching this filter")
    page.check("#select-all-matching")

    expect(page.locator("#matching-count")).to_have_text("5")
    expect(page.locator("#selected-count")).to_have_text("5")
