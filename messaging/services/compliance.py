"""Unsubscribe: signed links, RFC 8058 headers, the footer, and the unsubscribe itself.

Tokens carry the tenant and contact, are signed with SECRET_KEY and a purpose salt,
and are timestamped so they can expire; they stay valid for UNSUBSCRIBE_MAX_AGE (far
beyond the 60 days mail providers expect). A tampered token fails the signature and
changes nothing.
"""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape, linebreaks

from .tokens import token_read, token_sign

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "messaging.unsubscribe.v1"
UNSUBSCRIBE_MAX_AGE = timedelta(days=365)


def unsubscribe_token(*, tenant_id, contact_id):
    return token_sign({"t": tenant_id, "c": contact_id}, salt=UNSUBSCRIBE_SALT, timestamped=True)


def unsubscribe_token_read(token):
    """(tenant_id, contact_id) of a valid token, else BadToken."""
    return token_read(token, salt=UNSUBSCRIBE_SALT, fields=("t", "c"), max_age=UNSUBSCRIBE_MAX_AGE)


def unsubscribe_url(*, tenant_id, contact_id):
    return f"{settings.SITE_URL}/u/{unsubscribe_token(tenant_id=tenant_id, contact_id=contact_id)}/"


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


def signature_html(signature):
    return linebreaks(escape(signature)) if signature else ""


def contact_unsubscribe(*, tenant, contact_id, source="link", at=None):
    """Unsubscribe at once from every sequence of the tenant: the contact is marked,
    its address goes on the suppression list (where it outlives the contact), an event
    is recorded, open enrollments end and unsent messages are cancelled. Idempotent: a
    second unsubscribe records nothing new. Returns True if it changed."""
    from contacts.models import Contact, ContactEvent, EventKind, SuppressionReason
    from contacts.services.suppressions import suppression_add
    from sequences.services.reactions import outreach_stop

    at = at or timezone.now()
    with transaction.atomic():
        # Cancel queued work first (message rows), then mark the contact: the same lock
        # order as delivery (message, then contact), so the two never deadlock.
        outreach_stop(tenant=tenant, contact_ids=[contact_id], reason="unsubscribed", at=at)
        changed = Contact.objects.filter(tenant=tenant, pk=contact_id, unsubscribed_at__isnull=True).update(
            unsubscribed_at=at, updated_at=at
        )
        addresses = Contact.objects.filter(tenant=tenant, pk=contact_id).values_list("email", flat=True)
        suppression_add(tenant=tenant, addresses=list(addresses), reason=SuppressionReason.UNSUBSCRIBED,
                        source=f"unsubscribe ({source})", at=at)
        if changed:
            ContactEvent.objects.create(
                tenant=tenant, contact_id=contact_id, kind=EventKind.UNSUBSCRIBED,
                data={"source": source}, occurred_at=at,
            )
            logger.info("contact %s of tenant %s unsubscribed via %s", contact_id, tenant.pk, source)
    return bool(changed)
