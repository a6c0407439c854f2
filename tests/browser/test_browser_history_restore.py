"""The Back button after htmx pushed a URL: a history restore that misses htmx's cache gets the
whole page (with the navigation), never the fragment the pushed request swapped in."""
import re

import pytest
from playwright.sync_api import expect

from tests.factories import ContactFactory, SequenceFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _back_with_an_empty_history_cache(page):
    # htmx keeps its snapshots in sessionStorage; without them it asks the server for the page.
    # (Only the snapshots go: htmx saves the page it leaves under the path it keeps beside them.)
    page.evaluate("() => sessionStorage.removeItem('htmx-history-cache')")
    with page.expect_request(lambda r: r.headers.get("hx-history-restore-request") == "true"):
        page.go_back()


def test_back_on_the_contacts_filter_restores_the_full_page(page, live_server, client, tenant, other_tenant, rep):
    ContactFactory(tenant=tenant, first_name="Warm", last_name="Prospect", score_band="warm", owner=rep)
    ContactFactory(tenant=tenant, first_name="Icy", last_name="Cold", score_band="cold", owner=rep)
    ContactFactory(tenant=other_tenant, first_name="Outsider", score_band="warm")
    _login(page, live_server, client, rep)
    page.goto(f"{live_server.url}/contacts/")
    page.select_option("#id_score", "warm")
    page.wait_for_url(re.compile(r"score=warm"))
    page.select_option("#id_score", "cold")
    page.wait_for_url(re.compile(r"score=cold"))

    _back_with_an_empty_history_cache(page)

    page.wait_for_url(re.compile(r"score=warm"))
    # The restored rows say the restore has been swapped in.
    expect(page.locator("#contact-table")).to_contain_text("Warm")
    expect(page.locator("#contact-table")).not_to_contain_text("Icy")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.locator("#id_score")).to_have_value("warm")
    expect(page.locator("#contact-table")).not_to_contain_text("Outsider")
    expect(page.locator("#contact-table")).to_have_count(1)


def test_back_on_the_sequence_search_restores_the_full_page(page, live_server, client, tenant, rep):
    SequenceFactory(tenant=tenant, name="Alpha outreach", owner=rep)
    SequenceFactory(tenant=tenant, name="Beta outreach", owner=rep)
    _login(page, live_server, client, rep)
    page.goto(f"{live_server.url}/sequences/")
    search = page.get_by_role("searchbox")
    search.fill("Alpha")
    page.wait_for_url(re.compile(r"q=Alpha"))
    search.fill("Beta")
    page.wait_for_url(re.compile(r"q=Beta"))

    _back_with_an_empty_history_cache(page)

    page.wait_for_url(re.compile(r"q=Alpha"))
    expect(page.locator("#sequence-cards")).to_contain_text("Alpha outreach")
    expect(page.locator("#sequence-cards")).not_to_contain_text("Beta outreach")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("searchbox")).to_have_value("Alpha")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
