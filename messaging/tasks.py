"""Celery entry points: thin, ids in, one service call each."""
import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="messaging.deliver_due", ignore_result=True)
def deliver_due():
    """Send every due queued message (all tenants; each message is checked against its
    own tenant's rules). Kicked on enqueue and run by beat for deferred messages."""
    from .services.delivery import deliver_due as run

    report = run()
    if report:
        logger.info("delivery run: %s", dict(report))


@shared_task(name="messaging.poll_imap_all", ignore_result=True)
def poll_imap_all():
    """Fan out one polling task per IMAP-enabled mailbox."""
    from .services.imap import imap_mailboxes_due

    for tenant_id, mailbox_id in imap_mailboxes_due():
        poll_imap.delay(tenant_id, mailbox_id)


@shared_task(name="messaging.poll_imap", ignore_result=True)
def poll_imap(tenant_id, mailbox_id):
    import imaplib

    from scendcore.outbound import HostRefused

    from .models import Mailbox
    from .services.crypto import SecretUnavailable
    from .services.imap import imap_poll

    try:
        counts = imap_poll(tenant_id=tenant_id, mailbox_id=mailbox_id)
    except (imaplib.IMAP4.error, OSError, SecretUnavailable, HostRefused, Mailbox.DoesNotExist):
        # One broken mailbox must not stop the others; the next poll tries again.
        logger.exception("IMAP polling failed for mailbox %s of tenant %s", mailbox_id, tenant_id)
        return
    logger.info("IMAP mailbox %s: %s", mailbox_id, counts)


@shared_task(name="messaging.notify_mailbox_paused", ignore_result=True)
def notify_mailbox_paused(tenant_id, mailbox_id):
    """Tell the tenant's admins that the circuit breaker paused a mailbox."""
    from .services.reputation import pause_notice_send

    pause_notice_send(tenant_id=tenant_id, mailbox_id=mailbox_id)
