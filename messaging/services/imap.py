"""Polling a mailbox's inbox over IMAP for replies and bounces. Each message goes
through the same safe entry point as the inbound webhook (quarantine.inbound_receive),
and the cursor moves past it whatever became of it, so one bad message never stalls the
mailbox."""
import imaplib

from ..models import Mailbox
from . import crypto, transport
from .inbound import MalformedMessage, UnmatchedMessage
from .quarantine import inbound_receive


def imap_poll(*, tenant_id, mailbox_id, limit=200):
    """Fetch new mail of one mailbox over IMAP (UIDs above the last one seen) and run
    each message through inbound_process. Returns counts by outcome."""
    mailbox = Mailbox.objects.select_related("tenant").get(pk=mailbox_id, tenant_id=tenant_id, imap_enabled=True)
    tenant = mailbox.tenant
    counts = {"processed": 0, "unmatched": 0, "malformed": 0, "quarantined": 0}
    client = transport.imap_client(mailbox, timeout=30)
    try:
        client.login(mailbox.imap_username or mailbox.smtp_username, crypto.imap_password(mailbox))
        client.select("INBOX", readonly=True)
        status, data = client.uid("search", None, f"UID {mailbox.imap_last_uid + 1}:*")
        uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > mailbox.imap_last_uid)[:limit]
        for uid in uids:
            status, parts = client.uid("fetch", str(uid), "(RFC822)")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), b"")
            try:
                outcome = inbound_receive(tenant=tenant, raw=raw, mailbox=mailbox, source="imap")
                if outcome.quarantined:
                    counts["quarantined"] += 1
                else:
                    counts["processed"] += 0 if outcome.duplicate else 1
            except UnmatchedMessage:
                counts["unmatched"] += 1
            except MalformedMessage:
                counts["malformed"] += 1
            # Past this message whatever became of it: one bad message never stalls the mailbox.
            Mailbox.objects.filter(pk=mailbox.pk).update(imap_last_uid=uid)
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return counts


def imap_mailboxes_due():
    return list(Mailbox.objects.filter(imap_enabled=True).exclude(imap_host="").values_list("tenant_id", "pk"))
