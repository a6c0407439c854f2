"""Open pixel and click links: the tokens, and the links a sent message carries. Tokens
are signed (no timestamp: a link in an old email keeps working) and name the tenant and
the message. A click only redirects to a URL that was in that message, so the endpoint
is never an open redirect (what happens on a click or an open: engagement.py)."""
import html
import re
from urllib.parse import urlencode

from django.conf import settings

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
