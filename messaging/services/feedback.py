"""Recording what recipients' mail systems say about our mail: a spam complaint or a
hard bounce. One service per kind, whatever brought it in (an ARF report or a DSN to the
inbound hook, an ESP's event, an SMTP refusal at send time), so every intake has the
same effect: the address goes on the suppression list, the contact's sequences stop,
the contact's timeline says so, and the sending mailbox's circuit breaker is checked.
"""
from django.db import transaction
from django.utils import timezone

from ..models import DeliveryFeedback, FeedbackKind
from .reputation import breaker_check



def complaint_record(*, tenant, source, address="", message=None, contact=None, event_data=None, at=None):
    """A recipient marked our mail as spam. Returns False when this complaint (about this
    message) was recorded before."""
    return _record(FeedbackKind.COMPLAINT, tenant=tenant, source=source, address=address, message=message,
                   contact=contact, event_data=event_data, at=at)


def hard_bounce_record(*, tenant, source, address="", message=None, contact=None, event_data=None, at=None):
    """The recipient's address does not exist or refuses our mail for good. Returns False
    when this bounce (of this message) was recorded before."""
    return _record(FeedbackKind.HARD_BOUNCE, tenant=tenant, source=source, address=address, message=message,
                   contact=contact, event_data=event_data, at=at)


def _contact_for(tenant, address, message, contact):
    from contacts.models import Contact

    if contact is not None:
        return contact
    if message is not None:
        return message.contact
    return Contact.objects.filter(tenant=tenant, email__iexact=address).first() if address else None


def _record(kind, *, tenant, source, address, message, contact, event_data, at):
    from contacts.facts import facts_record
    from contacts.models import EventKind, SuppressionReason
    from contacts.services.suppressions import suppression_add

    at = at or timezone.now()
    if message is not None and message.tenant_id != tenant.pk:
        raise ValueError("the message belongs to another workspace")
    contact = _contact_for(tenant, address, message, contact)
    address = address or (message.to_address if message is not None else "") or getattr(contact, "email", "")
    with transaction.atomic():
        fresh = True
        if message is not None and message.mailbox_id:
            _, fresh = DeliveryFeedback.objects.get_or_create(
                message=message, kind=kind,
                defaults={"tenant": tenant, "mailbox_id": message.mailbox_id, "source": source[:40], "occurred_at": at},
            )
            if not fresh:
                return False
        reason = SuppressionReason.COMPLAINT if kind == FeedbackKind.COMPLAINT else SuppressionReason.HARD_BOUNCE
        listed = suppression_add(tenant=tenant, addresses=[address], reason=reason, source=source, at=at)
        if contact is not None and (message is not None or listed):
            # Outreach stops (a reaction to the fact); a bounce marks the contact bounced.
            facts_record(tenant=tenant, contact_ids=[contact.pk], message=message, at=at, events="all",
                         kind=EventKind.COMPLAINED if kind == FeedbackKind.COMPLAINT else EventKind.BOUNCED,
                         data={"source": source, **(event_data or {})})
        if message is not None and message.mailbox_id:
            breaker_check(tenant=tenant, mailbox_id=message.mailbox_id, at=at)
    return True
