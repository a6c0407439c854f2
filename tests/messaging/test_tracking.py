"""Open pixel and click redirect."""
import re
from urllib.parse import parse_qs, urlparse

import pytest

from contacts.models import ContactEvent
from messaging.models import MessageState
from messaging.services import tracking
from messaging.services.delivery import deliver_due, message_enqueue

from .conftest import make_message

pytestmark = pytest.mark.django_db

HTML = '<p>Hi, see <a href="https://scendly.example/pricing?plan=pro&amp;ref=mail">pricing</a>.</p><script>alert(1)</script>'


def _sent(tenant, sequence, smtp_server):
    message = message_enqueue(message=make_message(
        tenant=tenant, sequence=sequence, state=MessageState.APPROVED, body_html=HTML,
    ))
    deliver_due()
    message.refresh_from_db()
    html = smtp_server.messages[-1].get_body(preferencelist=("html",)).get_content()
    return message, html


def test_sent_html_has_rewritten_links_an_open_pixel_and_no_script(tenant, sequence, smtp_server):
    message, html = _sent(tenant, sequence, smtp_server)

    assert "<script" not in html
    assert 'href="http://127.0.0.1:8000/t/c/' in html
    assert "https://scendly.example/pricing" not in re.findall(r'href="([^"]+)"', html)
    assert "/t/o/" in html and ".gif" in html
    assert re.search(r'href="http://127.0.0.1:8000/u/', html)  # unsubscribe is not wrapped


def test_the_pixel_records_an_open(client, tenant, sequence, smtp_server):
    message, html = _sent(tenant, sequence, smtp_server)
    pixel = re.search(r'src="http://127.0.0.1:8000(/t/o/[^"]+)"', html).group(1)

    response = client.get(pixel)

    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert ContactEvent.objects.filter(contact=message.contact, kind="opened", message=message).count() == 1


def test_a_click_redirects_to_the_messages_url_and_records_it(client, tenant, sequence, smtp_server):
    message, html = _sent(tenant, sequence, smtp_server)
    link = re.search(r'href="http://127.0.0.1:8000(/t/c/[^"]+)"', html).group(1).replace("&amp;", "&")

    response = client.get(link)

    assert response.status_code == 302
    assert response["Location"] == "https://scendly.example/pricing?plan=pro&ref=mail"
    event = ContactEvent.objects.get(contact=message.contact, kind="clicked")
    assert event.data["url"] == "https://scendly.example/pricing?plan=pro&ref=mail"


def test_a_click_to_a_url_not_in_the_message_is_refused(client, tenant, sequence, smtp_server):
    message, html = _sent(tenant, sequence, smtp_server)
    link = re.search(r'href="http://127.0.0.1:8000(/t/c/[^"]+)"', html).group(1).replace("&amp;", "&")
    token_path = urlparse(link).path
    assert parse_qs(urlparse(link).query)["u"]

    response = client.get(token_path, {"u": "https://evil.example/phish"})

    assert response.status_code == 400
    assert not ContactEvent.objects.filter(kind="clicked").exists()


def test_a_forged_tracking_token_is_refused(client, tenant, sequence, smtp_server):
    message, _ = _sent(tenant, sequence, smtp_server)
    forged = tracking.tracking_token(message)[:-3] + "xyz"

    assert client.get(f"/t/c/{forged}/", {"u": "https://scendly.example/pricing?plan=pro&ref=mail"}).status_code == 400
    assert client.get(f"/t/o/{forged}.gif").status_code == 200
    assert not ContactEvent.objects.filter(kind__in=["clicked", "opened"]).exists()


def test_tracking_off_sends_plain_links(tenant, sequence, smtp_server):
    tenant.tracking_enabled = False
    tenant.save()
    _, html = _sent(tenant, sequence, smtp_server)

    assert 'href="https://scendly.example/pricing?plan=pro&amp;ref=mail"' in html
    assert "/t/o/" not in html and "/t/c/" not in html


def test_text_only_drafts_get_clickable_tracked_links(client, tenant, sequence, smtp_server):
    message = message_enqueue(message=make_message(tenant=tenant, sequence=sequence, state=MessageState.APPROVED))
    deliver_due()
    html = smtp_server.messages[-1].get_body(preferencelist=("html",)).get_content()
    link = re.search(r'href="http://127.0.0.1:8000(/t/c/[^"]+)"', html).group(1).replace("&amp;", "&")

    assert client.get(link)["Location"] == "https://scendly.example/demo"
