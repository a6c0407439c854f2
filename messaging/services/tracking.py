"""Open pixel and click redirect. Tokens are signed (no timestamp: a link in an old
email keeps working) and name the tenant and the message. A click only redirects to a
URL that was in that message, so the endpoint is never an open redirect."""
import html
import re
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .tokens import token_read, token_sign

TRACKING_SALT = "messaging.tracking.v1"
HREF = re.compile(r'href="(https?://[^"]+)"', re.IGNORECASE)
TEXT_URL = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)


def tracking_token(message):
    return token_sign({"t": message.tenant_id, "m": message.pk}, salt=TRACKING_SALT)


def tracking_token_read(token):
    """(tenant_id, message_id) of a valid token, else BadToken."""
    return token_read(token, salt=TRACKING_SALT, fields=("t", "m"))


def pixel_url(token):
    return f"{settings.SITE_URL}/t/o/{token}.gif"


def click_url(token, url):
    return f"{settings.SITE_URL}/t/c/{token}/?{urlencode({'u': url})}"


def links_in(html_body, text_body=""):
    """Every http(s) URL the message links to (href values unescaped, plus bare URLs
    of the text part)."""
    found = {html.unescape(u) for u in HREF.findall(html_body or "")}
    found.update(u.rstrip(".,;:!?") for u in TEXT_URL.findall(text_body or ""))
    return found


def rewrite_links(html_body, token, *, keep=()):
    """Route the message's links through the click redirect (not those in `keep`,
    such as the unsubscribe link), and append the open pixel."""

    def swap(match):
        url = html.unescape(match.group(1))
        if url in keep:
            return match.group(0)
        return f'href="{html.escape(click_url(token, url))}"'

    pixel = f'<img src="{html.escape(pixel_url(token))}" width="1" height="1" alt="" style="display:none">'
    return HREF.sub(swap, html_body) + pixel


def _message(tenant_id, message_id):
    from ..models import OutboundMessage

    return OutboundMessage.objects.filter(tenant_id=tenant_id, pk=message_id).select_related("contact").first()


def open_record(*, token, at=None):
    from contacts.models import ContactEvent, EventKind

    tenant_id, message_id = tracking_token_read(token)
    message = _message(tenant_id, message_id)
    if message is None:
        return None
    ContactEvent.objects.create(
        tenant_id=tenant_id, contact_id=message.contact_id, message=message,
        kind=EventKind.OPENED, occurred_at=at or timezone.now(),
    )
    return message


def click_record(*, token, url, at=None):
    """The URL to redirect to, after recording the click; None when `url` was not in
    the message (or the message is gone)."""
    from contacts.models import ContactEvent, EventKind

    from .delivery import render_bodies

    tenant_id, message_id = tracking_token_read(token)
    message = _message(tenant_id, message_id)
    if message is None or not url:
        return None
    text, html_body = render_bodies(message, with_tracking=False)
    if url not in links_in(html_body, text):
        return None
    with transaction.atomic():
        ContactEvent.objects.create(
            tenant_id=tenant_id, contact_id=message.contact_id, message=message,
            kind=EventKind.CLICKED, data={"url": url[:2000]}, occurred_at=at or timezone.now(),
        )
    return url
