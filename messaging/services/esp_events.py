"""Complaint and bounce events that email service providers post as JSON, read into one
shape. A registry of the common formats; each reader says whether a payload is its own,
and one that nobody recognises is refused, never guessed at. What an event does is
feedback.complaint_record / hard_bounce_record, the same as for any other intake."""
import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from scendcore.text import db_text

COMPLAINT, HARD_BOUNCE, IGNORED = "complaint", "hard_bounce", ""


class UnknownPayload(ValueError):
    """Not an event format this endpoint reads."""


@dataclass(frozen=True)
class EspEvent:
    kind: str  # COMPLAINT, HARD_BOUNCE or IGNORED
    address: str
    message_id: str = ""  # our Message-ID header, when the provider echoes it back


def _bracketed(value):
    value = db_text(str(value or "")).strip()[:253]
    return value if not value or value.startswith("<") else f"<{value}>"


# ------------------------------------------------------------------ readers


class SendGrid:
    """Event webhook: a JSON array of events ("spamreport", "bounce" …)."""

    @staticmethod
    def claims(payload):
        return isinstance(payload, list) and bool(payload) and all(isinstance(e, dict) and "event" in e for e in payload)

    @staticmethod
    def events(payload):
        for event in payload:
            name = event.get("event")
            if name == "spamreport":
                kind = COMPLAINT
            elif name == "bounce" and event.get("type", "bounce") == "bounce":  # "blocked" is temporary
                kind = HARD_BOUNCE
            else:
                kind = IGNORED
            yield EspEvent(kind=kind, address=event.get("email"), message_id=_bracketed(event.get("smtp-id")))


class Mailgun:
    """Webhooks: {"signature": …, "event-data": {"event": "complained" | "failed" …}}."""

    @staticmethod
    def claims(payload):
        return isinstance(payload, dict) and isinstance(payload.get("event-data"), dict)

    @staticmethod
    def events(payload):
        data = payload["event-data"]
        name = data.get("event")
        if name == "complained":
            kind = COMPLAINT
        elif name == "failed" and data.get("severity") == "permanent":
            kind = HARD_BOUNCE
        else:
            kind = IGNORED
        headers = (data.get("message") or {}).get("headers") or {}
        yield EspEvent(kind=kind, address=data.get("recipient"),
                       message_id=_bracketed(headers.get("message-id") if isinstance(headers, dict) else ""))


class AmazonSes:
    """SES notifications, as SNS delivers them ({"Type": "Notification", "Message": "<json>"})
    or raw. A subscription confirmation is acknowledged but never followed: confirming
    means opening a URL from the request, which is the operator's to do."""

    @staticmethod
    def _notification(payload):
        if payload.get("Type") == "Notification" and isinstance(payload.get("Message"), str):
            try:
                inner = json.loads(payload["Message"])
            except (ValueError, RecursionError):
                raise UnknownPayload("The SNS notification's Message is not JSON.") from None
            return inner if isinstance(inner, dict) else {}
        return payload

    @staticmethod
    def claims(payload):
        if not isinstance(payload, dict):
            return False
        if payload.get("Type") in ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"):
            return "TopicArn" in payload or "Message" in payload
        return "notificationType" in payload or "eventType" in payload

    @classmethod
    def events(cls, payload):
        if payload.get("Type") in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
            return
        note = cls._notification(payload)
        name = note.get("notificationType") or note.get("eventType")
        mail = note.get("mail") or {}
        message_id = _bracketed((mail.get("commonHeaders") or {}).get("messageId"))
        if name == "Complaint":
            complaint = note.get("complaint") or {}
            kind = IGNORED if complaint.get("complaintFeedbackType") == "not-spam" else COMPLAINT
            recipients = complaint.get("complainedRecipients") or []
        elif name == "Bounce":
            bounce = note.get("bounce") or {}
            kind = HARD_BOUNCE if bounce.get("bounceType") == "Permanent" else IGNORED
            recipients = bounce.get("bouncedRecipients") or []
        else:
            kind, recipients = IGNORED, mail.get("destination") or [""]
        for recipient in recipients:
            address = recipient.get("emailAddress") if isinstance(recipient, dict) else recipient
            yield EspEvent(kind=kind, address=address, message_id=message_id)


class Postmark:
    """Webhooks: {"RecordType": "SpamComplaint" | "Bounce", "Email": …}. Postmark's
    MessageID is its own, so the event is matched by the recipient."""

    @staticmethod
    def claims(payload):
        return isinstance(payload, dict) and "RecordType" in payload

    @staticmethod
    def events(payload):
        record = payload.get("RecordType")
        if record == "SpamComplaint":
            kind = COMPLAINT
        elif record == "Bounce" and payload.get("Type") == "HardBounce":
            kind = HARD_BOUNCE
        else:
            kind = IGNORED
        yield EspEvent(kind=kind, address=payload.get("Email") or payload.get("Recipient"))


READERS = {"sendgrid": SendGrid, "mailgun": Mailgun, "ses": AmazonSes, "postmark": Postmark}


def esp_events_read(payload):
    """(provider, [EspEvent]) of a decoded JSON payload. UnknownPayload when no reader
    claims it; ValidationError naming the events whose address is missing or invalid."""
    provider = next((name for name, reader in READERS.items() if reader.claims(payload)), None)
    if provider is None:
        raise UnknownPayload(
            "Unrecognised event format: expected SendGrid, Mailgun, Amazon SES (via SNS) or Postmark events.")
    events, errors = list(READERS[provider].events(payload)), []
    for index, event in enumerate(events):
        if event.kind == IGNORED:
            continue
        try:
            if not isinstance(event.address, str):
                raise ValidationError("missing")
            validate_email(event.address.strip())
        except ValidationError:
            errors.append(f"Event {index + 1}: no valid recipient address.")
    if errors:
        raise ValidationError({"events": errors[:20]})
    return provider, events


@transaction.atomic
def esp_events_record(*, tenant, provider, events, at=None):
    """Apply the events to the tenant; counts of complaints, hard bounces and ignored."""
    from .feedback import complaint_record, hard_bounce_record
    from .inbound import match_message

    counts = {"complaints": 0, "hard_bounces": 0, "ignored": 0}
    for event in events:
        if event.kind == IGNORED:
            counts["ignored"] += 1
            continue
        address = event.address.strip().lower()
        message = match_message(tenant=tenant, ids=[event.message_id] if event.message_id else [], sender=None) \
            or match_message(tenant=tenant, ids=[], sender=address)
        record = complaint_record if event.kind == COMPLAINT else hard_bounce_record
        record(tenant=tenant, source=f"{provider} event", address=address, message=message, at=at,
               event_data={"provider": provider})
        counts["complaints" if event.kind == COMPLAINT else "hard_bounces"] += 1
    return counts
