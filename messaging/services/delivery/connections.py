"""Handing a message to the outside: the mailbox's own SMTP account (one connection per
mailbox per batch) or the SMS provider, with what can go wrong sorted into retry later,
give up, or the recipient refused."""
import logging
import smtplib
from email.utils import formataddr, make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from scendcore import outbound

from ...models import TlsMode
from .. import crypto, sms, transport
from ..limits import recipient_domain
from .render import build_email, delivered_copy

logger = logging.getLogger(__name__)

SMTP_TIMEOUT = 30
DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
GUARDED_SMTP_BACKEND = "messaging.services.transport.GuardedSmtpBackend"


class TransientError(Exception):
    """Try again later (4xx, connection trouble, provider 5xx)."""


class PermanentError(Exception):
    """Give up on this message (5xx other than a recipient rejection)."""


class RecipientRejected(PermanentError):
    """The server refused the recipient for good: a hard bounce."""


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


def smtp_send(message, connections):
    mailbox = message.mailbox
    try:
        email = build_email(message)
    except Exception as exc:  # a message we cannot even build never reached a server
        raise PermanentError(f"Could not build the email: {exc}") from exc
    try:
        email.connection = connections.get(mailbox)
        email.send()
        message.delivered = delivered_copy(email)
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


def sms_send(message):
    try:
        return sms.sms_backend().send(to=message.to_address, body=message.body_text)
    except sms.SmsTransientError as exc:
        raise TransientError(str(exc)) from exc
    except sms.SmsError as exc:
        raise PermanentError(str(exc)) from exc


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
