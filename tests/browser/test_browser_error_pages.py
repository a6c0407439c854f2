"""The demo run (DEBUG on) shows the app's own 404 page, never Django's technical one that lists
the URL patterns: for another workspace's id, an unknown id and an unknown address."""
import pytest
from playwright.sync_api import expect

from tests.factories import ContactListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_the_demo_run_shows_the_apps_404_page(page, live_server, client, settings, tenant, other_tenant, rep):
    settings.DEBUG = True  # what `make run` uses; pytest-django turns it off otherwise
    theirs = ContactListFactory(tenant=other_tenant, name="Their list")
    _login(page, live_server, client, rep)

    for path in (f"/lists/{theirs.pk}/", "/lists/987654321/", "/no-such-page/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("URLconf")
        expect(page.locator("body")).not_to_contain_text("Their list")
