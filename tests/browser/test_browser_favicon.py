"""Every page has a favicon: the app's pages link it, and /favicon.ico (asked for by pages that
do not link one, like the Django admin) leads to it instead of a 404."""
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_pages_load_without_a_single_404(page, live_server, client, admin):
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    _login(page, live_server, client, admin)
    for path in ("/lists/", "/admin/", "/accounts/login/"):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("body")).to_be_visible()
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    icon = page.request.get(f"{live_server.url}/favicon.ico")
    assert icon.ok and icon.headers["content-type"] == "image/svg+xml"
    assert page.locator('link[rel="icon"]').get_attribute("href").endswith("favicon.svg")
    assert failed == []
