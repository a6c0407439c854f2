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
from .actions import message_enqueue, message_resend
from .connections import (
    PermanentError, RecipientRejected, TransientError, mailbox_connection, mailbox_send_test,
)
from .render import build_email, clean_subject, render_bodies, thread_root_of
from .run import BACKOFF_BASE, MAX_ATTEMPTS, SENDING_LEASE, claim_due, deliver_due, mark_stale_sending

__all__ = [
    "BACKOFF_BASE", "MAX_ATTEMPTS", "SENDING_LEASE", "PermanentError", "RecipientRejected", "TransientError",
    "build_email", "claim_due", "clean_subject", "deliver_due", "mailbox_connection", "mailbox_send_test",
    "mark_stale_sending", "message_enqueue", "message_resend", "render_bodies", "thread_root_of",
]
