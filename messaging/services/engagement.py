"""Opens and clicks, recorded as contact facts (their reactions run with them): the
tracking pixel and tracked links of a sent message lead here."""
from django.db import transaction

from .delivery.render import render_bodies
from .tracking import links_in, tracking_token_read


def _message(tenant_id, message_id):
    from ..models import OutboundMessage

    return OutboundMessage.objects.filter(tenant_id=tenant_id, pk=message_id).select_related("tenant", "contact").first()


def open_record(*, token, at=None):
    from contacts.facts import facts_record
    from contacts.models import EventKind

    tenant_id, message_id = tracking_token_read(token)
    message = _message(tenant_id, message_id)
    if message is None:
        return None
    facts_record(tenant=message.tenant, kind=EventKind.OPENED, contact_ids=[message.contact_id], message=message,
                 at=at)
    return message


def click_record(*, token, url, at=None):
    """The URL to redirect to, after recording the click; None when `url` was not in
    the message (or the message is gone)."""
    from contacts.facts import facts_record
    from contacts.models import EventKind

    tenant_id, message_id = tracking_token_read(token)
    message = _message(tenant_id, message_id)
    if message is None or not url:
        return None
    text, html_body = render_bodies(message, with_tracking=False)
    if url not in links_in(html_body, text):
        return None
    with transaction.atomic():
        facts_record(tenant=message.tenant, kind=EventKind.CLICKED, contact_ids=[message.contact_id], message=message,
                     data={"url": url[:2000]}, at=at)
    return url
