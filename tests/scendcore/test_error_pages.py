"""With DEBUG on (the demo run) a 404 is the app's page, and a missing slash still redirects."""
import pytest

from tests.factories import ContactListFactory

pytestmark = pytest.mark.django_db


def test_an_outsiders_id_and_an_unknown_address_get_the_apps_404_page(rep_client, settings, other_tenant):
    settings.DEBUG = True
    theirs = ContactListFactory(tenant=other_tenant)
    for path in (f"/lists/{theirs.pk}/", "/no-such-page/"):
        response = rep_client.get(path)
        assert response.status_code == 404
        assert [t.name for t in response.templates][0] == "404.html"
        assert "URLconf" not in response.content.decode()


def test_a_missing_slash_still_redirects_with_debug_on(rep_client, settings):
    settings.DEBUG = True
    response = rep_client.get("/lists")
    assert response.status_code == 301 and response["Location"] == "/lists/"
