"""Per-mailbox sending limits over a true sliding window (DESIGN, seed 003).

Every send reserves a SendRecord row; the limiter counts rows in the last 24 hours /
hour, per mailbox and per recipient domain, so there are no bucket edges to burst
across. `mailbox_reserve` locks the mailbox row for the transaction that counts and
inserts, which serializes reservations per mailbox: concurrent workers can never pass
a cap together. `mailbox_next_slot` is the same arithmetic without the lock, for
callers that only want to know when to come back.
"""
import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..models import Mailbox, MailboxStatus, SendRecord

DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)
# A paused mailbox has no "next slot"; callers check back after this long.
PAUSED_RECHECK = timedelta(hours=1)


def daily_cap(mailbox, *, at=None):
    """Today's cap: the configured daily cap, lowered by the warmup ramp while it runs
    (start + increase × days since the start date, up to the target)."""
    at = at or timezone.now()
    cap = mailbox.daily_cap
    if mailbox.warmup_enabled and mailbox.warmup_start_date:
        days = max(0, (at.date() - mailbox.warmup_start_date).days)
        ramp = min(mailbox.warmup_target_cap, mailbox.warmup_start_cap + mailbox.warmup_daily_increase * days)
        cap = min(cap, ramp)
    return cap


def recipient_domain(address):
    return address.rsplit("@", 1)[-1].strip().lower() if "@" in address else ""


def window_opens(records, cap, window, at):
    """`records` are send times inside (at - window, at], oldest first. With fewer than
    `cap` of them there is room now; else room opens when enough of the oldest expire.
    The one sliding-window rule: mailbox caps and the contact frequency cap use it."""
    if len(records) < cap:
        return None
    if cap == 0:
        return at + window
    return records[len(records) - cap] + window


def _gap_jitter(mailbox, last_record_id):
    # Deterministic per last send, so the check and the reservation agree.
    if not mailbox.gap_jitter_seconds:
        return 0
    return random.Random(f"{mailbox.pk}:{last_record_id}").randint(0, mailbox.gap_jitter_seconds)


def _earliest(mailbox, domain, at):
    if mailbox.status != MailboxStatus.ACTIVE:
        return at + PAUSED_RECHECK
    # No upper bound on purpose: a record stamped a moment "after" `at` (another worker
    # whose clock read came later but whose lock came first) still counts.
    rows = SendRecord.objects.filter(mailbox=mailbox, sent_at__gt=at - DAY)
    day = list(rows.order_by("sent_at", "id").values_list("id", "sent_at", "recipient_domain"))
    candidates = [
        window_opens([t for _, t, _ in day], daily_cap(mailbox, at=at), DAY, at),
        window_opens([t for _, t, _ in day if t > at - HOUR], mailbox.hourly_cap, HOUR, at),
    ]
    if mailbox.domain_daily_max and domain:
        same = [t for _, t, d in day if d == domain]
        candidates.append(window_opens(same, mailbox.domain_daily_max, DAY, at))
    if mailbox.min_gap_seconds or mailbox.gap_jitter_seconds:
        last = SendRecord.objects.filter(mailbox=mailbox).order_by("-sent_at", "-id").first()
        if last is not None:
            gap = mailbox.min_gap_seconds + _gap_jitter(mailbox, last.pk)
            candidates.append(last.sent_at + timedelta(seconds=gap))
    opens = max((c for c in candidates if c is not None), default=None)
    return opens if opens is not None and opens > at else None


def mailbox_next_slot(*, mailbox, recipient_domain, at=None):
    """None when `mailbox` may send to `recipient_domain` at `at`; else the earliest
    moment it may (a deferral gate: nothing is reserved)."""
    return _earliest(mailbox, (recipient_domain or "").lower(), at or timezone.now())


@dataclass
class Reservation:
    record: SendRecord | None
    next_slot: object = None

    @property
    def ok(self):
        return self.record is not None


def mailbox_reserve(*, mailbox_id, tenant_id, recipient_domain, at=None):
    """Atomically take one send slot: lock the mailbox row, count, insert the record.
    Returns a Reservation with the record, or with the next slot when full."""
    domain = (recipient_domain or "").lower()
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().get(pk=mailbox_id, tenant_id=tenant_id)
        at = at or timezone.now()  # read the clock once the lock is ours
        opens = _earliest(mailbox, domain, at)
        if opens is not None:
            return Reservation(record=None, next_slot=opens)
        record = SendRecord.objects.create(
            tenant_id=tenant_id, mailbox=mailbox, recipient_domain=domain, sent_at=at
        )
        return Reservation(record=record)


def reservation_release(record_id):
    """Give a slot back when nothing reached the server (a transient failure)."""
    SendRecord.objects.filter(pk=record_id).delete()
