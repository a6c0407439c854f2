"""Creating lists on /lists/ in Chromium: the form resets, the table grows, a duplicate is refused inline."""
import pytest
from playwright.sync_api import expect

from tests.factories import ContactListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_creating_a_list_resets_the_form_and_shows_it_in_the_table(page, live_server, client, tenant, other_tenant,
                                                                   rep):
    ContactListFactory(tenant=tenant, name="Existing")
    ContactListFactory(tenant=other_tenant, name="Their list")
    _login(page, live_server, client, rep)
    page.goto(f"{live_server.url}/lists/")

    page.fill("#new-list-name", "Warm leads")
    page.get_by_role("button", name="Create list").click()

    table = page.locator("#list-table")
    expect(table.get_by_role("link", name="Warm leads")).to_be_visible()
    expect(page.locator("#new-list-name")).to_have_value("")
    expect(page.get_by_role("button", name="Create list")).to_be_visible()
    expect(table.get_by_role("link", name="Existing")).to_be_visible()
    expect(table).not_to_contain_text("Their list")

    page.fill("#new-list-name", "WARM LEADS")
    page.get_by_role("button", name="Create list").click()
    expect(page.locator("#list-create .errorlist")).to_contain_text("already a list named")
    expect(page.locator("#new-list-name")).to_have_value("WARM LEADS")
    expect(table.locator("tbody tr")).to_have_count(2)
