"""An admin erases a person from the contact page in Chromium: the confirmation asks
first, and afterwards the suppression list shows the address as a hash only."""
import re
from pathlib import Path

import pytest

from contacts.models import Contact
from contacts.suppression import address_hash
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_an_admin_erases_a_person_after_confirming(page, live_server, client, tenant, admin, output_path):
    contact = ContactFactory(tenant=tenant, email="forget.me@acme.example", first_name="Forget", last_name="Me")
    _login(page, live_server, client, admin)
    page.goto(f"{live_server.url}/contacts/{contact.pk}/")

    page.get_by_placeholder("Type forget.me@acme.example to confirm").fill("forget.me@acme.example")
    page.once("dialog", lambda dialog: dialog.dismiss())  # changed their mind
    page.locator("#contact-erase").get_by_role("button", name="Erase").click()
    assert Contact.objects.filter(pk=contact.pk).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#contact-erase").get_by_role("button", name="Erase").click()
    page.wait_for_url(re.compile(r"/contacts/$"))
    assert "Only a keyed hash of the address stays" in page.inner_text("#messages")
    assert not Contact.objects.filter(pk=contact.pk).exists()

    page.goto(f"{live_server.url}/contacts/suppression/")
    entries = page.inner_text("#suppression-entries")
    page.screenshot(path=Path(output_path) / "suppression-list-after-erasure.png", full_page=True)
    assert "forget.me@acme.example" not in page.content()
    assert address_hash("forget.me@acme.example")[:12] in entries and "Erased at the person" in entries
