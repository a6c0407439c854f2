"""Sending queued messages (email over each mailbox's SMTP account, SMS through the
configured provider).

A delivery run works in three steps so that nothing is ever sent twice:
1. claim: due `queued` rows are taken with SELECT … FOR UPDATE SKIP LOCKED and stamped
   with the run's id and a short lease (a run that dies gives them back when it ends);
2. prepare, one transaction per message: re-check suppression, the tenant's frequency
   cap and the mailbox limits (reserving a slot atomically), then mark the message
   `sending` and COMMIT — before a byte goes to the server;
3. hand over, then record `sent` with its Message-ID.
A message still `sending` after SENDING_LEASE was handed over by a run that never
came back: its outcome is unknown. It is marked `unknown` and shown, never resent.
"""
import logging
import smtplib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formataddr, make_msgid

import nh3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import linebreaks, urlize

from scendcore import outbound

from ..models import MailboxStatus, MessageState, OutboundMessage, TlsMode
from . import compliance, crypto, sms, tracking, transport
from .limits import mailbox_reserve, recipient_domain, reservation_release, window_opens
from .pools import mailbox_for, pool_earliest_slot

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
MAX_BATCHES_PER_RUN = 20
MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
CLAIM_LEASE = timedelta(minutes=10)
SENDING_LEASE = timedelta(minutes=15)
SMTP_TIMEOUT = 30
DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
GUARDED_SMTP_BACKEND = "messaging.services.transport.GuardedSmtpBackend"
PAUSED_RECHECK = timedelta(hours=1)
ENQUEUEABLE = {
    MessageState.DRAFT, MessageState.APPROVED, MessageState.QUEUED,
    MessageState.FAILED, MessageState.UNKNOWN,
}
STATE_FIELDS = ["state", "claimed_by", "next_attempt_at", "error", "updated_at"]


class TransientError(Exception):
    """Try again later (4xx, connection trouble, provider 5xx)."""


class PermanentError(Exception):
    """Give up on this message (5xx other than a recipient rejection)."""


class RecipientRejected(PermanentError):
    """The server refused the recipient for good: a hard bounce."""


def _kick():
    from .. import tasks

    tasks.deliver_due.delay()


def message_enqueue(*, message, at=None):
    """Queue `message` for delivery at `at` (now by default); delivery is kicked on
    commit, and the periodic run picks up anything due later."""
    if message.state not in ENQUEUEABLE:
        raise ValidationError(f"A {message.get_state_display().lower()} message cannot be queued.")
    now = timezone.now()
    message.state = MessageState.QUEUED
    message.queued_at = now
    message.next_attempt_at = at or now
    message.claimed_by = ""
    message.save(update_fields=["state", "queued_at", "next_attempt_at", "claimed_by", "updated_at"])
    transaction.on_commit(_kick)
    return message


# ---------------------------------------------------------------- rendering


def thread_root_of(message):
    """The first message of the thread a follow-up belongs to (None: a new thread)."""
    if message.thread_root_id:
        return message.thread_root
    if message.channel != "email" or not message.enrollment_id or message.step is None:
        return None
    if message.step.job_type != "follow_up":
        return None
    return (
        OutboundMessage.objects.filter(
            tenant_id=message.tenant_id, enrollment_id=message.enrollment_id, channel="email",
            state=MessageState.SENT,
        )
        .exclude(pk=message.pk)
        .order_by("sent_at", "id")
        .first()
    )


def clean_subject(subject):
    return " ".join((subject or "").split())[:500]


def render_bodies(message, *, unsubscribe_url=None, with_tracking=None):
    """(text, html) exactly as sent: the draft (HTML sanitized: what an AI wrote is
    never markup we trust), the mailbox signature, the footer, and with tracking on,
    rewritten links and the open pixel."""
    tenant = message.tenant
    mailbox = message.mailbox
    url = unsubscribe_url or compliance.unsubscribe_url(
        tenant_id=tenant.pk, contact_id=message.contact_id, address=message.to_address)
    signature = mailbox.signature if mailbox else ""
    text = message.body_text or ""
    if signature:
        text = f"{text}\n\n{signature}"
    text += "\n" + compliance.footer_text(tenant=tenant, url=url)
    if message.body_html:
        body_html = nh3.clean(message.body_html)
    else:
        body_html = linebreaks(urlize(message.body_text or "", nofollow=False, autoescape=True))
    body_html += compliance.signature_html(signature) + compliance.footer_html(tenant=tenant, url=url)
    use_tracking = tenant.tracking_enabled if with_tracking is None else with_tracking
    if use_tracking and message.pk:
        body_html = tracking.rewrite_links(body_html, tracking.tracking_token(message), keep={url})
    return text, f"<!doctype html><html><body>{body_html}</body></html>"


def build_email(message):
    mailbox = message.mailbox
    url = compliance.unsubscribe_url(tenant_id=message.tenant_id, contact_id=message.contact_id,
                                     address=message.to_address)
    text, html_body = render_bodies(message, unsubscribe_url=url)
    headers = {"Message-ID": message.message_id, **compliance.unsubscribe_headers(url=url, mailbox=mailbox)}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
        headers["References"] = message.references or message.in_reply_to
    email = EmailMultiAlternatives(
        subject=clean_subject(message.subject),
        body=text,
        from_email=formataddr((mailbox.from_name, mailbox.from_email)),
        to=[message.to_address],
        reply_to=[mailbox.reply_to] if mailbox.reply_to else None,
        headers=headers,
    )
    email.attach_alternative(html_body, "text/html")
    return email


def mailbox_connection(mailbox, *, timeout=SMTP_TIMEOUT):
    """A Django email connection through the mailbox's own SMTP account."""
    backend = getattr(settings, "MESSAGING_EMAIL_BACKEND", GUARDED_SMTP_BACKEND)
    if backend == DJANGO_SMTP_BACKEND:
        # Configurations written before the outbound guard name Django's own backend: a
        # tenant's host must still go through the guard.
        backend = GUARDED_SMTP_BACKEND
    return get_connection(
        backend,
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        username=mailbox.smtp_username or "",
        password=crypto.smtp_password(mailbox) if mailbox.smtp_username else "",
        use_tls=mailbox.tls_mode == TlsMode.STARTTLS,
        use_ssl=mailbox.tls_mode == TlsMode.SSL,
        timeout=timeout,
        fail_silently=False,
    )


# ---------------------------------------------------------------- the run


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


def _frequency_slot(message, contact, tenant, at):
    """None if the contact may get another message now under the tenant's cap across
    all sequences, else when the oldest counted message leaves the window.

    Not the processor's batch FrequencyCap on purpose: that one counts messages by when
    they were created, queued ones included, to hold steps back; here, at send time and
    under the contact's row lock, only what was actually sent (or is on its way) counts,
    else two queued messages to one contact would each hold the other back."""
    cap, hours = tenant.frequency_cap_messages, tenant.frequency_cap_hours
    if not cap or not hours:
        return None
    window = timedelta(hours=hours)
    cutoff = at - window
    rows = (
        OutboundMessage.objects.filter(tenant=tenant, contact=contact)
        .filter(
            Q(state=MessageState.SENT, sent_at__gt=cutoff)
            | Q(state__in=[MessageState.SENDING, MessageState.UNKNOWN], updated_at__gt=cutoff)
        )
        .exclude(pk=message.pk)
    )
    times = sorted(r.sent_at or r.updated_at for r in rows.only("sent_at", "updated_at"))
    return window_opens(times, cap, window, at)


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


def _window_slot(message, contact, tenant, at):
    """None when the step's send window is open now in the contact's time, else when it
    opens. A draft approved late in the evening waits for the morning."""
    from sequences.scheduling import defer_into_window

    if message.step is None:
        return None
    opens = defer_into_window(when=at, step=message.step, contact=contact, tenant=tenant)
    return opens if opens > at else None


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
        until = _frequency_slot(message, contact, tenant, at)
        if until is not None:
            return _defer(message, until=until, why=f"contact frequency cap ({tenant.frequency_cap_messages} per "
                          f"{tenant.frequency_cap_hours} h)")
        until = _window_slot(message, contact, tenant, at)
        if until is not None:
            return _defer(message, until=until, why="outside the step's send window (recipient's time)")
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
    message.from_address = formataddr((mailbox.from_name, mailbox.from_email))
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


# ---------------------------------------------------------------- handing over


class BatchConnections:
    """One SMTP connection per mailbox, opened on first use and reused for the whole
    batch. A mailbox whose server could not be reached is not dialled again in the same
    batch; its other messages get the same error at once. Each dial can wait
    SMTP_TIMEOUT, and a batch dialling a dead server message after message would
    outlive SENDING_LEASE: its messages, never handed over, would turn `unknown`."""

    def __init__(self):
        self.open = {}
        self.unreachable = {}  # mailbox id -> what opening its connection raised

    def get(self, mailbox):
        connection = self.open.get(mailbox.pk)
        if connection is not None:
            return connection
        if mailbox.pk in self.unreachable:
            raise self.unreachable[mailbox.pk].with_traceback(None)
        connection = None
        try:
            connection = mailbox_connection(mailbox)
            connection.open()
        except Exception as exc:
            self._close(connection)  # e.g. connected, then the login failed
            self.unreachable[mailbox.pk] = exc
            raise
        self.open[mailbox.pk] = connection
        return connection

    def drop(self, mailbox_id):
        """Close a connection left in an unknown state; the next message reconnects."""
        self._close(self.open.pop(mailbox_id, None))

    def close_all(self):
        for mailbox_id in list(self.open):
            self.drop(mailbox_id)

    @staticmethod
    def _close(connection):
        if connection is None:
            return
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide the real error
            logger.debug("closing SMTP connection failed", exc_info=True)


def _smtp_send(message, connections):
    mailbox = message.mailbox
    try:
        email = build_email(message)
    except Exception as exc:  # a message we cannot even build never reached a server
        raise PermanentError(f"Could not build the email: {exc}") from exc
    try:
        email.connection = connections.get(mailbox)
        email.send()
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        text = f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
        if code >= 500:
            raise RecipientRejected(text) from exc
        raise TransientError(text) from exc
    except smtplib.SMTPResponseException as exc:
        connections.drop(mailbox.pk)
        reply = exc.smtp_error
        text = f"{exc.smtp_code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
        if exc.smtp_code == 550 and isinstance(exc, smtplib.SMTPDataError):
            raise RecipientRejected(text) from exc
        if exc.smtp_code >= 500:
            raise PermanentError(text) from exc
        raise TransientError(text) from exc
    except outbound.HostRefused as exc:
        raise TransientError(str(exc)) from exc
    except (smtplib.SMTPException, OSError, crypto.SecretUnavailable) as exc:
        connections.drop(mailbox.pk)
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc
    return message.message_id


def _sms_send(message):
    try:
        return sms.sms_backend().send(to=message.to_address, body=message.body_text)
    except sms.SmsTransientError as exc:
        raise TransientError(str(exc)) from exc
    except sms.SmsError as exc:
        raise PermanentError(str(exc)) from exc


def _hand_over(item, *, run_id, at, connections):
    message = item.message
    try:
        if message.channel == "sms":
            provider_id = _sms_send(message)
        else:
            provider_id = _smtp_send(message, connections)
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
            pk=message.pk, claimed_by=run_id, state__in=[MessageState.SENDING, MessageState.UNKNOWN]
        ).update(
            state=MessageState.SENT, sent_at=at, message_id=provider_id or message.message_id,
            claimed_by="", next_attempt_at=None, error="", updated_at=at,
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
    from .feedback import hard_bounce_record

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


# ---------------------------------------------------------------- manual actions


def message_resend(*, tenant, message, actor):
    """A person decided to try again a message that failed or whose outcome is unknown."""
    from scendcore.models import AuditEntry

    if message.state not in (MessageState.FAILED, MessageState.UNKNOWN):
        raise ValidationError("Only failed messages or messages with an unknown outcome can be resent.")
    with transaction.atomic():
        previous = message.state
        message.attempts = 0
        message.error = ""
        message.save(update_fields=["attempts", "error", "updated_at"])
        message_enqueue(message=message)
        AuditEntry.objects.create(
            tenant=tenant, actor=actor, object_type="outbound_message", object_id=str(message.pk),
            action="resend", changes={"state": [previous, "queued"]},
        )
    return message


def mailbox_send_test(*, mailbox, to_address):
    """Send a test email through the mailbox now. Returns None on success, or what went
    wrong as a category (never the server's own reply), for showing next to the button."""
    try:
        connection = mailbox_connection(mailbox, timeout=15)
        email = EmailMultiAlternatives(
            subject=f"ScendCore test email from {mailbox.name}",
            body=f"This is a test email sent through {mailbox.smtp_host}:{mailbox.smtp_port} "
            f"for the mailbox {mailbox.from_email}. If you can read it, sending works.",
            from_email=formataddr((mailbox.from_name, mailbox.from_email)),
            to=[to_address],
            reply_to=[mailbox.reply_to] if mailbox.reply_to else None,
            headers={"Message-ID": make_msgid(domain=recipient_domain(mailbox.from_email) or None)},
            connection=connection,
        )
        email.send()
    except transport.SEND_TEST_ERRORS as exc:
        logger.info("send test of mailbox %s failed: %r", mailbox.pk, exc)
        return transport.failure_category(exc)
    return None

