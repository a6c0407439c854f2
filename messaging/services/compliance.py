"""Unsubscribe: opaque links, RFC 8058 headers, the footer, and the unsubscribe itself.

A link's token is sealed (tokens.opaque_seal): it carries the tenant, the contact, the
keyed hash of the address the mail went to and when it was issued, none of which can
be read from it. The hash lets an unsubscribe take effect even after the contact was
deleted. Tokens stay valid for UNSUBSCRIBE_MAX_AGE (far beyond the 60 days mail
providers expect); a tampered one fails its tag and changes nothing.

Links sent before opaque tokens (Django-signed JSON of the ids, readable by anyone)
are still accepted until they expire, a year after they were sent; none are issued.
"""
import logging
import struct
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape, linebreaks

from .tokens import BadToken, opaque_open, opaque_seal, token_read

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "messaging.unsubscribe.v1"
UNSUBSCRIBE_PURPOSE = "unsubscribe.v2"
UNSUBSCRIBE_MAX_AGE = timedelta(days=365)
# tenant id, contact id, issued at (Unix seconds), keyed hash of the address (zeros: none)
PAYLOAD = struct.Struct(">QQI32s")
NO_ADDRESS = bytes(32)


def unsubscribe_token(*, tenant_id, contact_id, address=""):
    from contacts.suppression import address_hash

    digest = bytes.fromhex(address_hash(address)) if address else NO_ADDRESS
    return opaque_seal(PAYLOAD.pack(tenant_id, contact_id, int(time.time()), digest), purpose=UNSUBSCRIBE_PURPOSE)


def unsubscribe_token_read(token):
    """(tenant_id, contact_id, address hash or "") of a valid token, else BadToken."""
    if ":" in token:  # the signed format of links sent before opaque tokens
        tenant_id, contact_id = token_read(token, salt=UNSUBSCRIBE_SALT, fields=("t", "c"),
                                           max_age=UNSUBSCRIBE_MAX_AGE)
        return tenant_id, contact_id, ""
    data = opaque_open(token, purpose=UNSUBSCRIBE_PURPOSE)
    if len(data) != PAYLOAD.size:
        raise BadToken("unexpected payload")
    tenant_id, contact_id, issued, digest = PAYLOAD.unpack(data)
    if time.time() - issued > UNSUBSCRIBE_MAX_AGE.total_seconds():
        raise BadToken("expired")
    return tenant_id, contact_id, "" if digest == NO_ADDRESS else digest.hex()


def unsubscribe_url(*, tenant_id, contact_id, address=""):
    token = unsubscribe_token(tenant_id=tenant_id, contact_id=contact_id, address=address)
    return f"{settings.SITE_URL}/u/{token}/"


def unsubscribe_headers(*, url, mailbox):
    """List-Unsubscribe with a mailto and the https link, plus RFC 8058 one-click."""
    mailto = mailbox.reply_to or mailbox.from_email
    return {
        "List-Unsubscribe": f"<mailto:{mailto}?subject=unsubscribe>, <{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def footer_text(*, tenant, url):
    lines = ["", "--"]
    if tenant.postal_address:
        lines.append(" ".join(tenant.postal_address.split()))
    lines.append(f"Unsubscribe: {url}")
    return "\n".join(lines)


def footer_html(*, tenant, url):
    address = escape(" ".join(tenant.postal_address.split())) if tenant.postal_address else ""
    return (
        '<div style="margin-top:24px;color:#777;font-size:12px">'
        f"{address + '<br>' if address else ''}"
        f'<a href="{escape(url)}" style="color:#777">Unsubscribe</a></div>'
    )


def test_notice():
    return ("Test message: this copy came to you instead of the contact. The live email carries "
            "the contact's unsubscribe link; this one has none, so nothing here can unsubscribe them.")


def test_notice_html(notice):
    return f'<div style="margin-top:24px;color:#777;font-size:12px">{escape(notice)}</div>'


def signature_html(signature):
    return linebreaks(escape(signature)) if signature else ""


def contact_unsubscribe(*, tenant, contact_id, source="link", at=None, address_hash=""):
    """Unsubscribe at once from every sequence of the tenant: the contact is marked,
    its address goes on the suppression list (where it outlives the contact), an event
    is recorded, open enrollments end and unsent messages are cancelled. Idempotent: a
    second unsubscribe records nothing new. Returns True if it changed.

    `address_hash`: of the address the link was sent to (from the token), listed too,
    so the unsubscribe holds even when the contact is gone or its address changed."""
    from contacts.facts import facts_record
    from contacts.models import Contact, EventKind, SuppressionReason
    from contacts.services.suppressions import suppression_add

    at = at or timezone.now()
    with transaction.atomic():
        # Queued work is cancelled (a reaction to the fact) before the contact is marked.
        changed = facts_record(tenant=tenant, kind=EventKind.UNSUBSCRIBED, contact_ids=[contact_id], at=at,
                               data={"source": source})
        addresses = Contact.objects.filter(tenant=tenant, pk=contact_id).values_list("email", flat=True)
        suppression_add(tenant=tenant, addresses=list(addresses), hashes=[address_hash] if address_hash else [],
                        reason=SuppressionReason.UNSUBSCRIBED, source=f"unsubscribe ({source})", at=at)
        if changed:
            logger.info("contact %s of tenant %s unsubscribed via %s", contact_id, tenant.pk, source)
    return bool(changed)
