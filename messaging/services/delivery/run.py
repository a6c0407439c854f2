"""A delivery run: claim due messages, re-check each at send time and commit it as
`sending`, hand it over, record what happened (see the package's description)."""
import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from scendcore import gates
from scendcore.gates import Attempt

from ...models import IN_FLIGHT_STATES, MailboxStatus, MessageState, OutboundMessage
from ..limits import mailbox_reserve, recipient_domain, reservation_release
from ..pools import mailbox_for, pool_earliest_slot
from .connections import BatchConnections, PermanentError, RecipientRejected, TransientError, sms_send, smtp_send
from .render import clean_subject, from_header, thread_root_of

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
MAX_BATCHES_PER_RUN = 20
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
CLAIM_LEASE = timedelta(minutes=10)
SENDING_LEASE = timedelta(minutes=15)
PAUSED_RECHECK = timedelta(hours=1)
STATE_FIELDS = ["state", "claimed_by", "next_attempt_at", "error", "updated_at"]


def deliver_due(*, at=None, batch_size=BATCH_SIZE, max_batches=MAX_BATCHES_PER_RUN):
    """Send what is due. Safe to run in many workers at once. Returns counts by outcome."""
    report = Counter()
    for _ in range(max_batches):
        now = at or timezone.now()
        report["unknown"] += mark_stale_sending(at=now)
        run_id = uuid.uuid4().hex
        ids = claim_due(run_id=run_id, at=now, limit=batch_size)
        if not ids:
            break
        _deliver_claimed(ids, run_id=run_id, at=at, report=report)
        if len(ids) < batch_size:
            break
    return report


def mark_stale_sending(*, at):
    """Messages handed over by a run that never recorded the result."""
    stale = OutboundMessage.objects.filter(state=MessageState.SENDING, next_attempt_at__lte=at)
    count = stale.update(
        state=MessageState.UNKNOWN, next_attempt_at=None, claimed_by="", updated_at=at,
        error="Outcome unknown: the send was interrupted after the message was handed to the "
        "server. Check the mailbox's Sent folder before resending.",
    )
    if count:
        logger.warning("%s message(s) marked unknown after an interrupted send", count)
    return count


def claim_due(*, run_id, at, limit):
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(Q(next_attempt_at__lte=at) | Q(next_attempt_at__isnull=True), state=MessageState.QUEUED)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            OutboundMessage.objects.filter(pk__in=ids).update(
                claimed_by=run_id, next_attempt_at=at + CLAIM_LEASE
            )
    return ids


@dataclass
class Ready:
    message: OutboundMessage
    record_id: int | None


def _deliver_claimed(ids, *, run_id, at, report):
    ready = []
    for message_id in ids:
        outcome = _prepare(message_id, run_id=run_id, at=at or timezone.now())
        if isinstance(outcome, Ready):
            ready.append(outcome)
        else:
            report[outcome] += 1
    ready.sort(key=lambda r: (r.message.mailbox_id or 0, r.message.pk))
    connections = BatchConnections()
    try:
        for item in ready:
            report[_hand_over(item, run_id=run_id, at=at, connections=connections)] += 1
    finally:
        connections.close_all()


def _defer(message, *, until, why):
    message.state = MessageState.QUEUED
    message.claimed_by = ""
    message.next_attempt_at = until
    message.error = f"Deferred: {why}"
    message.save(update_fields=STATE_FIELDS)
    return "deferred"


def _finish(message, *, state, why):
    message.state = state
    message.claimed_by = ""
    message.next_attempt_at = None
    message.error = why
    message.save(update_fields=STATE_FIELDS)
    return str(state)


def _held_at_send(message, contact, tenant, at):
    """The first gate that holds the message now, among those that re-check at send time
    (the same registry the processor and the enrollment page use), as a Held or None."""
    attempt = Attempt(tenant=tenant, contact=contact, step=message.step, channel=message.channel,
                      key=message.idempotency_key, message_id=message.pk,
                      test_mode=bool(message.test_intended_to))
    checks = gates.at_send()
    prepared = {gate.name: gate.prepare([attempt], now=at, phase=gates.SEND) for gate in checks}
    return gates.first_hold(checks, prepared, attempt, now=at)[1]


def _choose_mailbox(message, at):
    """(mailbox, None) or (None, (until, why)) or (None, None) when there is none at all."""
    if message.mailbox_id:
        return message.mailbox, None
    enrollment = message.enrollment
    sequence = enrollment.sequence if enrollment else None
    if sequence is None:
        return None, None
    thread_root = thread_root_of(message)
    mailbox = mailbox_for(sequence=sequence, contact=message.contact, thread_root=thread_root, at=at)
    if mailbox is not None:
        return mailbox, None
    if sequence.mailbox_pool_id:
        until = pool_earliest_slot(
            pool_id=sequence.mailbox_pool_id, tenant_id=message.tenant_id,
            domain=recipient_domain(message.to_address), at=at,
        )
        return None, (until or at + PAUSED_RECHECK, "every mailbox of the pool is paused or at its limit")
    return None, None


def _prepare(message_id, *, run_id, at):
    """Re-check everything at send time and, if the message may go, reserve its slot
    and commit it as `sending`. Returns a Ready or the name of the outcome."""
    from contacts.models import Contact
    from contacts.suppression import label, suppression_reason

    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update(of=("self",))
            .select_related("tenant", "enrollment__sequence", "step", "thread_root")
            .filter(pk=message_id, state=MessageState.QUEUED, claimed_by=run_id)
            .first()
        )
        if message is None:
            return "lost_claim"
        contact = Contact.objects.select_for_update().get(pk=message.contact_id)
        message.contact = contact
        tenant = message.tenant
        if contact.tenant_id != message.tenant_id:
            return _finish(message, state=MessageState.FAILED, why="Contact belongs to another workspace.")
        suppressed = suppression_reason(contact)
        if suppressed:
            return _finish(message, state=MessageState.CANCELLED, why=f"Cancelled: {label(suppressed)}")
        if message.channel == "sms" and contact.sms_opted_out_at:
            return _finish(message, state=MessageState.CANCELLED, why="Cancelled: contact opted out of SMS")
        held = _held_at_send(message, contact, tenant, at)
        if held is not None:
            return _defer(message, until=held.until, why=held.why)
        if message.channel == "sms":
            return _ready_sms(message, contact, at)
        return _ready_email(message, at)


def _ready_sms(message, contact, at):
    message.to_address = message.to_address or contact.phone
    if not message.to_address:
        return _finish(message, state=MessageState.FAILED, why="The contact has no phone number.")
    message.state = MessageState.SENDING
    message.attempts += 1
    message.next_attempt_at = at + SENDING_LEASE
    message.save(update_fields=["state", "attempts", "next_attempt_at", "to_address", "updated_at"])
    return Ready(message=message, record_id=None)


def _ready_email(message, at):
    mailbox, deferral = _choose_mailbox(message, at)
    if mailbox is None:
        if deferral:
            return _defer(message, until=deferral[0], why=deferral[1])
        return _finish(message, state=MessageState.FAILED, why="No sender mailbox is set for this sequence.")
    if mailbox.tenant_id != message.tenant_id:
        return _finish(message, state=MessageState.FAILED, why="The mailbox belongs to another workspace.")
    if mailbox.status != MailboxStatus.ACTIVE:
        why = f"mailbox {mailbox.from_email} is paused" + (f": {mailbox.pause_reason}" if mailbox.pause_reason else "")
        return _defer(message, until=at + PAUSED_RECHECK, why=why)
    reservation = mailbox_reserve(
        mailbox_id=mailbox.pk, tenant_id=message.tenant_id,
        recipient_domain=recipient_domain(message.to_address), at=at,
    )
    if not reservation.ok:
        return _defer(message, until=reservation.next_slot, why=f"mailbox {mailbox.from_email} is at its limit")
    root = thread_root_of(message)
    if root is not None and root.message_id:
        message.thread_root = root
        message.in_reply_to = root.message_id
        message.references = root.message_id
        if not clean_subject(message.subject):
            base = clean_subject(root.subject)
            message.subject = base if base.lower().startswith("re:") else f"Re: {base}"
    message.mailbox = mailbox
    message.from_address = from_header(message, mailbox)
    if not message.message_id:
        message.message_id = make_msgid(domain=recipient_domain(mailbox.from_email) or None)
    message.state = MessageState.SENDING
    message.attempts += 1
    message.next_attempt_at = at + SENDING_LEASE
    message.save(update_fields=[
        "state", "attempts", "next_attempt_at", "mailbox", "from_address", "message_id",
        "thread_root", "in_reply_to", "references", "subject", "updated_at",
    ])
    return Ready(message=message, record_id=reservation.record.pk)


def _hand_over(item, *, run_id, at, connections):
    message = item.message
    try:
        if message.channel == "sms":
            provider_id = sms_send(message)
        else:
            provider_id = smtp_send(message, connections)
    except RecipientRejected as exc:
        return _record_bounce(message, run_id=run_id, why=str(exc), at=at)
    except PermanentError as exc:
        return _record_failure(message, run_id=run_id, why=str(exc), record_id=None)
    except TransientError as exc:
        return _record_retry(message, run_id=run_id, why=str(exc), record_id=item.record_id, at=at)
    return _record_sent(message, run_id=run_id, provider_id=provider_id, at=at)


def _record_sent(message, *, run_id, provider_id, at):
    from contacts.models import Contact

    at = at or timezone.now()
    with transaction.atomic():
        # `unknown` too: a slow hand-over may have outlived its lease, but we know better.
        OutboundMessage.objects.filter(
            pk=message.pk, claimed_by=run_id, state__in=IN_FLIGHT_STATES
        ).update(
            state=MessageState.SENT, sent_at=at, message_id=provider_id or message.message_id,
            claimed_by="", next_attempt_at=None, error="", updated_at=at, delivered=message.delivered,
        )
        Contact.objects.filter(pk=message.contact_id).update(last_contacted_at=at)
    return "sent"


def _record_retry(message, *, run_id, why, record_id, at):
    at = at or timezone.now()
    if record_id:
        reservation_release(record_id)  # nothing reached the recipient: give the slot back
    if message.attempts >= MAX_ATTEMPTS:
        return _record_failure(message, run_id=run_id, why=f"Gave up after {message.attempts} attempts: {why}",
                               record_id=None)
    delay = min(BACKOFF_BASE * (2 ** (message.attempts - 1)), BACKOFF_MAX)
    OutboundMessage.objects.filter(pk=message.pk, claimed_by=run_id, state=MessageState.SENDING).update(
        state=MessageState.QUEUED, claimed_by="", next_attempt_at=at + delay,
        error=f"Attempt {message.attempts} failed, retrying: {why}"[:2000], updated_at=at,
    )
    logger.info("message %s: transient failure, retry in %s: %s", message.pk, delay, why)
    return "retried"


def _record_failure(message, *, run_id, why, record_id):
    if record_id:
        reservation_release(record_id)
    OutboundMessage.objects.filter(pk=message.pk, claimed_by=run_id).update(
        state=MessageState.FAILED, claimed_by="", next_attempt_at=None, error=why[:2000],
        updated_at=timezone.now(),
    )
    logger.warning("message %s failed: %s", message.pk, why)
    return "failed"


def _record_bounce(message, *, run_id, why, at):
    """The server refused the recipient: the message failed and the address is a hard
    bounce, which stops every sequence for the contact."""
    from ..feedback import hard_bounce_record

    at = at or timezone.now()
    with transaction.atomic():
        OutboundMessage.objects.filter(pk=message.pk, claimed_by=run_id).update(
            state=MessageState.FAILED, claimed_by="", next_attempt_at=None,
            error=f"Recipient rejected: {why}"[:2000], updated_at=at,
        )
        hard_bounce_record(tenant=message.tenant, source="refused at send", address=message.to_address,
                           message=message, at=at, event_data={"smtp": why[:500], "during": "send"})
    logger.info("message %s: recipient rejected (%s); contact %s marked bounced", message.pk, why, message.contact_id)
    return "bounced"
