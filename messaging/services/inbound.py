"""Mail coming back: replies, out-of-office answers and bounces (DSNs), from the
inbound webhook or IMAP polling; and booked meetings from the meetings webhook.

Each inbound message is handled in one transaction: it is matched to the message we
sent (In-Reply-To / References, else the sender's recent thread), classified, and
recorded together with its effect on the contact, or nothing is written at all.

Everything read from a message passes through db_text: mail may carry NUL (an encoded
=00) and bytes the parser keeps as surrogates, which PostgreSQL refuses. A message that
still fails is quarantined by quarantine.inbound_receive, so neither the webhook nor IMAP
polling (messaging.services.imap) ever stops on it.
"""
import email
import email.policy
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from scendcore.text import db_text

from ..models import LEFT_STATES, InboundClassification, InboundMessage, MessageState, OutboundMessage

logger = logging.getLogger(__name__)

MAX_RAW_BYTES = 10 * 1024 * 1024
SENDER_MATCH_WINDOW = timedelta(days=60)
MSGID = re.compile(r"<[^<>\s]+>")
AUTO_SUBJECTS = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|abwesenheit|"
    r"abwesenheitsnotiz|absence|on vacation|away from the office|r[ée]ponse automatique)",
    re.IGNORECASE,
)
STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")


class InboundError(Exception):
    status = 400


class MalformedMessage(InboundError):
    status = 400


class UnmatchedMessage(InboundError):
    status = 422


@dataclass
class Outcome:
    inbound: InboundMessage | None
    duplicate: bool = False
    quarantined: object = None  # the InboundQuarantine row when processing failed

    @property
    def classification(self):
        return self.inbound.classification if self.inbound else "quarantined"


# ---------------------------------------------------------------- parsing


def parse_raw(raw):
    if not raw or not raw.strip():
        raise MalformedMessage("The request body is empty: expected a raw MIME message.")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        headers = {k.lower() for k in message.keys()}
    except Exception as exc:  # the parser is lenient; whatever still breaks it is malformed
        raise MalformedMessage(f"Could not parse the MIME message: {exc}") from exc
    if "from" not in headers or not ({"message-id", "date", "subject", "to"} & headers):
        raise MalformedMessage("Not a MIME email: it has no From header or no other mail headers.")
    return message


def header(message, name):
    try:
        value = message.get(name)
    except Exception:  # a header the strict policy cannot parse
        value = message.get_all(name, [None])[0] if hasattr(message, "get_all") else None
    return db_text(" ".join(str(value).split())) if value is not None else ""


def address_of(message, name="From"):
    raw = header(message, name)
    _, addr = email.utils.parseaddr(raw)
    return addr.strip().lower()


def referenced_ids(message):
    ids = MSGID.findall(header(message, "In-Reply-To")) + MSGID.findall(header(message, "References"))
    return list(dict.fromkeys(ids))


def text_of(message, limit=20000):
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else ""
    except Exception:
        content = ""
    return db_text((content or "")[:limit])


def raw_text(raw):
    """The raw message as storable text, for showing (not for parsing again)."""
    return db_text(raw[:MAX_RAW_BYTES].decode("utf-8", errors="replace"))


def is_auto_reply(message):
    auto_submitted = header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return True
    if header(message, "X-Autoreply") or header(message, "X-Autorespond"):
        return True
    if header(message, "X-Auto-Response-Suppress").lower() in ("all", "oof"):
        return True
    if header(message, "Precedence").lower() in ("auto_reply", "bulk", "junk"):
        return True
    return bool(AUTO_SUBJECTS.match(header(message, "Subject")))


@dataclass
class Dsn:
    status: str
    action: str
    recipient: str
    original_ids: list

    @property
    def hard(self):
        return self.status.startswith("5") or (not self.status and self.action == "failed")


def parse_dsn(message):
    """The delivery-status report of a multipart/report bounce, or None."""
    if message.get_content_type() != "multipart/report":
        return None
    if message.get_param("report-type", "").lower() != "delivery-status":
        return None
    status = action = recipient = ""
    original_ids = []
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            fields = {}
            for block in part.get_payload() if part.is_multipart() else []:
                for key, value in block.items():
                    fields.setdefault(key.lower(), db_text(str(value)))
            if not fields:  # some parsers leave the status as text
                for line in db_text(str(part.get_payload())).splitlines():
                    if ":" in line:
                        key, value = line.split(":", 1)
                        fields.setdefault(key.strip().lower(), value.strip())
            match = STATUS.search(fields.get("status", ""))
            status = match.group(0) if match else ""
            action = fields.get("action", "").strip().lower()
            recipient = fields.get("final-recipient", fields.get("original-recipient", ""))
            recipient = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            if ctype == "message/rfc822":
                inner = part.get_payload()[0] if part.is_multipart() else None
            else:
                # The payload's bytes, not get_content(): that raises on an unknown charset.
                headers = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
                inner = email.message_from_string(headers, policy=email.policy.default)
            if inner is not None:
                original_ids += MSGID.findall(header(inner, "Message-ID"))
    return Dsn(status=status, action=action, recipient=recipient, original_ids=original_ids)


@dataclass
class FeedbackReport:
    """An ARF report (RFC 5965) a mailbox provider's feedback loop sends when a
    recipient marks mail as spam."""

    feedback_type: str
    recipient: str
    original_ids: list
    user_agent: str = ""

    @property
    def complaint(self):
        return self.feedback_type in COMPLAINT_FEEDBACK_TYPES


COMPLAINT_FEEDBACK_TYPES = ("abuse", "fraud")


def _report_fields(part):
    """The name: value fields of a message/feedback-report part, lowercased names."""
    fields = {}
    blocks = part.get_payload() if part.is_multipart() else []
    for block in blocks:
        for key, value in block.items():
            fields.setdefault(key.lower(), db_text(str(value)).strip())
    if not fields:  # left as text by the parser
        for line in db_text(str(part.get_payload())).splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                fields.setdefault(key.strip().lower(), value.strip())
    return fields


def parse_feedback_report(message):
    """The feedback report of a multipart/report; report-type=feedback-report, or None."""
    if message.get_content_type() != "multipart/report":
        return None
    if message.get_param("report-type", "").lower() != "feedback-report":
        return None
    fields, original_ids, original_to = {}, [], ""
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "message/feedback-report" and not fields:
            fields = _report_fields(part)
        elif ctype in ("message/rfc822", "text/rfc822-headers") and not original_ids:
            if ctype == "message/rfc822":
                inner = part.get_payload()[0] if part.is_multipart() else None
            else:
                text = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
                inner = email.message_from_string(text, policy=email.policy.default)
            if inner is not None:
                original_ids = MSGID.findall(header(inner, "Message-ID"))
                original_to = address_of(inner, "To")
    recipient = fields.get("original-rcpt-to", "").strip().strip("<>").lower() or original_to
    return FeedbackReport(
        feedback_type=fields.get("feedback-type", "").lower(), recipient=db_text(recipient)[:254],
        original_ids=original_ids, user_agent=fields.get("user-agent", "")[:100],
    )


# ---------------------------------------------------------------- matching


def match_message(*, tenant, ids, sender):
    """Our message this one answers: by Message-ID, else the sender's latest sent
    message within the match window."""
    if ids:
        found = (
            OutboundMessage.objects.filter(tenant=tenant, message_id__in=[i for i in ids if i])
            .select_related("contact").order_by("-sent_at", "-id").first()
        )
        if found:
            return found
    if sender:
        return (
            OutboundMessage.objects.filter(
                tenant=tenant, contact__email__iexact=sender,
                state__in=LEFT_STATES,
                sent_at__gte=timezone.now() - SENDER_MATCH_WINDOW,
            )
            .select_related("contact").order_by("-sent_at", "-id").first()
        )
    return None


# ---------------------------------------------------------------- processing


def inbound_process(*, tenant, raw, mailbox=None, at=None):
    """Record one raw inbound message for `tenant`. Raises MalformedMessage or
    UnmatchedMessage (nothing written); a message seen before is not recorded twice."""
    from contacts.models import Contact

    at = at or timezone.now()
    message = parse_raw(raw)
    message_id = header(message, "Message-ID")[:255]
    if message_id:
        seen = InboundMessage.objects.filter(tenant=tenant, message_id=message_id).first()
        if seen:
            return Outcome(inbound=seen, duplicate=True)
    report = parse_feedback_report(message)
    dsn = parse_dsn(message) if report is None else None
    sender = address_of(message)
    about = report or dsn
    if about is not None:
        # A report on one of our messages comes from a mail system, not from the
        # contact: it is matched by the message it quotes or its recipient, never by its sender.
        matched = match_message(tenant=tenant, ids=about.original_ids, sender=None)
        if matched is None and about.recipient:
            matched = match_message(tenant=tenant, ids=[], sender=about.recipient)
        contact = matched.contact if matched else (
            Contact.objects.filter(tenant=tenant, email__iexact=about.recipient).first() if about.recipient else None
        )
    else:
        matched = match_message(tenant=tenant, ids=referenced_ids(message), sender=sender)
        contact = matched.contact if matched else None
    # A complaint about an address we hold no contact for still suppresses the address.
    if contact is None and not (report is not None and report.recipient):
        logger.warning("inbound mail for tenant %s matched nothing (from %s, id %s)", tenant.pk, sender, message_id)
        raise UnmatchedMessage("No message or contact of this workspace matches this email.")

    # A test-mode copy went to the rep: an answer to it, or its bounce, is the rep's mail
    # and must not pause, bounce or unsubscribe the contact it was meant for.
    test_copy = matched is not None and bool(matched.test_intended_to)
    with transaction.atomic():
        inbound = InboundMessage(
            tenant=tenant, mailbox=mailbox or (matched.mailbox if matched else None),
            contact=None if test_copy else contact,
            matched_message=matched, from_address=sender[:320], subject=header(message, "Subject")[:500],
            message_id=message_id, in_reply_to=header(message, "In-Reply-To")[:255],
            body_text=text_of(message), raw=raw_text(raw),
            received_at=at,
        )
        if test_copy:
            inbound.classification = InboundClassification.TEST_COPY
            inbound.save()
        elif report is not None:
            _record_feedback_report(inbound, report=report, contact=contact, matched=matched, at=at)
        elif dsn is not None:
            _record_bounce(inbound, dsn=dsn, contact=contact, matched=matched, at=at)
        elif is_auto_reply(message):
            _record_auto_reply(inbound, contact=contact, matched=matched, at=at)
        elif inbound.subject.lower().startswith("unsubscribe") and matched is not None:
            _record_unsubscribe_request(inbound, contact=contact, matched=matched, at=at)
        else:
            _record_reply(inbound, contact=contact, matched=matched, at=at)
    return Outcome(inbound=inbound)


def _event(inbound, kind, contact, matched, at, **data):
    """Record the contact fact the inbound message tells of (its reactions run with it)."""
    from contacts.facts import fact_record

    fact_record(tenant=inbound.tenant, kind=kind, contact=contact, message=matched, at=at,
                data={"inbound_id": inbound.pk, "subject": inbound.subject[:200], **data})


def _record_bounce(inbound, *, dsn, contact, matched, at):
    from contacts.models import EventKind

    from .feedback import hard_bounce_record

    detail = {"status": dsn.status, "action": dsn.action, "recipient": dsn.recipient}
    if dsn.hard:
        inbound.classification = InboundClassification.HARD_BOUNCE
        inbound.save()
        if matched is not None:
            OutboundMessage.objects.filter(pk=matched.pk).update(
                state=MessageState.BOUNCED, error=f"Bounced: {dsn.status} {dsn.action}".strip(), updated_at=at
            )
        hard_bounce_record(
            tenant=inbound.tenant, source=f"DSN {dsn.status}".strip(), address=dsn.recipient or contact.email,
            message=matched, contact=contact, at=at,
            event_data={"inbound_id": inbound.pk, "subject": inbound.subject[:200], **detail},
        )
    else:
        inbound.classification = InboundClassification.SOFT_BOUNCE
        inbound.save()
        _event(inbound, EventKind.SOFT_BOUNCED, contact, matched, at, **detail)


def _record_feedback_report(inbound, *, report, contact, matched, at):
    from .feedback import complaint_record

    if not report.complaint:  # not-spam, virus, auth-failure …: kept, nothing to act on
        inbound.classification = InboundClassification.FEEDBACK
        inbound.save()
        return
    inbound.classification = InboundClassification.COMPLAINT
    inbound.save()
    complaint_record(
        # The report's recipient may be redacted by the provider: the matched message knows better.
        tenant=inbound.tenant, source="ARF report", address=matched.to_address if matched else report.recipient,
        message=matched, contact=contact,
        at=at, event_data={"inbound_id": inbound.pk, "feedback_type": report.feedback_type,
                           "reported_by": report.user_agent},
    )


def _record_auto_reply(inbound, *, contact, matched, at):
    from contacts.models import EventKind

    inbound.classification = InboundClassification.AUTO_REPLY
    inbound.save()
    _event(inbound, EventKind.AUTO_REPLY, contact, matched, at)


def _record_reply(inbound, *, contact, matched, at):
    from contacts.models import EventKind

    from .intent import reply_intent

    inbound.classification = InboundClassification.REPLY
    inbound.intent = reply_intent(subject=inbound.subject, body=inbound.body_text)
    inbound.save()
    # Pauses (or, by the sequence's exit rules, ends) what stops on a reply.
    _event(inbound, EventKind.REPLIED, contact, matched, at, intent=inbound.intent)


def _record_unsubscribe_request(inbound, *, contact, matched, at):
    """The mailto: half of List-Unsubscribe lands here as a mail with that subject."""
    from .compliance import contact_unsubscribe

    inbound.classification = InboundClassification.REPLY
    inbound.save()
    contact_unsubscribe(tenant=inbound.tenant, contact_id=contact.pk, source="mailto", at=at)


# ---------------------------------------------------------------- meetings


def meeting_booked(*, tenant, contact, starts_at=None, source="", at=None):
    """A meeting booked with the contact (a calendar's webhook): the fact pauses what
    stops on a meeting."""
    from contacts.facts import fact_record
    from contacts.models import EventKind

    with transaction.atomic():
        fact_record(tenant=tenant, kind=EventKind.MEETING_BOOKED, contact=contact, at=at,
                    data={"starts_at": starts_at.isoformat() if starts_at else None, "source": source[:100]})
