"""Inbound messages that failed processing: held with their exact bytes and the error,
then retried or discarded by a manager. A retry runs the very same inbound_process, so
a fixed defect lets the reply take effect (stop on reply, bounces) as if on arrival.
`inbound_receive` is the entry point for mail as it arrives (webhook, IMAP polling)."""
import hashlib
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scendcore.audit import audit_record as audit
from scendcore.text import db_text

from ..models import InboundQuarantine, QuarantineStatus
from . import inbound

logger = logging.getLogger(__name__)

ERROR_LIMIT = 2000


def _error_text(error):
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return db_text(text)[:ERROR_LIMIT]


def _summary(raw):
    """From, Subject and Message-ID for the list, or blanks when even that fails."""
    try:
        message = inbound.parse_raw(raw)
        return inbound.address_of(message)[:320], inbound.header(message, "Subject")[:500], \
            inbound.header(message, "Message-ID")[:255]
    except Exception:  # noqa: BLE001 - a summary is a courtesy; the raw bytes are what matters
        return "", "", ""


def quarantine_hold(*, tenant, raw, source, error, mailbox=None, at=None):
    """Keep `raw` for review. The same bytes delivered again while held are held once."""
    digest = hashlib.sha256(raw).hexdigest()
    with transaction.atomic():
        held = InboundQuarantine.objects.filter(
            tenant=tenant, raw_sha256=digest, status=QuarantineStatus.HELD
        ).first()
        if held is not None:
            return held
        from_address, subject, message_id = _summary(raw)
        return InboundQuarantine.objects.create(
            tenant=tenant, mailbox=mailbox, source=source, raw=raw, raw_sha256=digest,
            from_address=from_address, subject=subject, message_id=message_id,
            error=_error_text(error), received_at=at or timezone.now(),
        )


def _locked_held(tenant, item):
    row = InboundQuarantine.objects.select_for_update().filter(tenant=tenant, pk=item.pk).first()
    if row is None:
        raise ValidationError("That message does not exist.")
    if row.status != QuarantineStatus.HELD:
        raise ValidationError(f"This message was already {row.get_status_display().lower()}.")
    return row


def quarantine_retry(*, tenant, item, actor, at=None):
    """Process the held message again. Success releases it (linked to what it became);
    a failure keeps it held with the new error. Returns the row."""
    at = at or timezone.now()
    with transaction.atomic():
        row = _locked_held(tenant, item)
        row.attempts += 1
        try:
            with transaction.atomic():
                outcome = inbound.inbound_process(tenant=tenant, raw=bytes(row.raw), mailbox=row.mailbox, at=at)
        except Exception as exc:  # noqa: BLE001 - shown to the person who asked for the retry
            row.error = _error_text(str(exc) if isinstance(exc, inbound.InboundError) else exc)
            row.save(update_fields=["attempts", "error"])
            audit(tenant=tenant, actor=actor, object_type="inbound_quarantine", object_id=row.pk,
                  action="retry_failed", changes={"error": row.error[:200]})
            return row
        row.status = QuarantineStatus.RELEASED
        row.inbound = outcome.inbound
        row.decided_at, row.decided_by = at, actor
        row.save(update_fields=["attempts", "status", "inbound", "decided_at", "decided_by"])
        audit(tenant=tenant, actor=actor, object_type="inbound_quarantine", object_id=row.pk, action="released",
              changes={"inbound_id": outcome.inbound.pk, "classification": outcome.classification})
    return row


def quarantine_discard(*, tenant, item, actor, at=None):
    """Give up on the held message; its bytes (someone's mail) are not kept."""
    at = at or timezone.now()
    with transaction.atomic():
        row = _locked_held(tenant, item)
        row.status = QuarantineStatus.DISCARDED
        row.raw = b""
        row.decided_at, row.decided_by = at, actor
        row.save(update_fields=["status", "raw", "decided_at", "decided_by"])
        audit(tenant=tenant, actor=actor, object_type="inbound_quarantine", object_id=row.pk, action="discarded")
    return row


def inbound_receive(*, tenant, raw, source, mailbox=None, at=None):
    """inbound_process for mail as it arrives (webhook, IMAP). MalformedMessage and
    UnmatchedMessage still raise (the sender is told); any other failure rolls the
    message back and keeps it in the quarantine with the error, for a person to retry
    or discard, and returns an Outcome saying so."""
    try:
        with transaction.atomic():  # a savepoint: a failed statement must not spoil the caller's transaction
            return inbound.inbound_process(tenant=tenant, raw=raw, mailbox=mailbox, at=at)
    except inbound.InboundError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever it is, the message is kept, not lost
        logger.exception("inbound mail for tenant %s failed processing; quarantined", tenant.pk)
        held = quarantine_hold(tenant=tenant, raw=raw, mailbox=mailbox, source=source, error=exc, at=at)
        return inbound.Outcome(inbound=None, quarantined=held)
