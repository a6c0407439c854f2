"""The sequence's sender: its mailbox's limits (daily with warmup, hourly, minimum gap),
or a pool with at least one mailbox that may send. Asked once per mailbox or pool per
batch. Limits per recipient domain are left to delivery, which reserves each send
through the limiter (messaging.services.limits) and so re-checks every limit itself."""
from datetime import timedelta

from messaging.services.limits import daily_cap, mailbox_next_slot
from messaging.services.pools import pool_earliest_slot
from scendcore.gates import Held, Hold

from ...models import Channel
from ...scheduling import contact_zone
from .wording import local

NO_MAILBOX_RECHECK = timedelta(hours=1)


class MailboxGate:
    name = "mailbox"
    order = 30
    recheck_at_send = False  # delivery's reservation through the limiter is the send-time check

    def applies(self, attempt):
        return attempt.channel == Channel.EMAIL and attempt.sequence is not None

    def prepare(self, attempts, *, now, phase):
        return {}

    def hold(self, verdicts, attempt, *, now):
        sequence = attempt.sequence
        if sequence.mailbox_pool_id:
            key = ("pool", sequence.mailbox_pool_id)
            if key not in verdicts:
                verdicts[key] = self._pool(sequence, now)
        elif sequence.sender_profile_id:
            key = ("mailbox", sequence.sender_profile_id)
            if key not in verdicts:
                verdicts[key] = self._mailbox(sequence.sender_profile, now)
        else:
            return None
        return verdicts[key]

    def _mailbox(self, mailbox, now):
        slot = mailbox_next_slot(mailbox=mailbox, recipient_domain="", at=now)
        if slot is None or slot <= now:
            return None
        if mailbox.status != "active":
            return Held(slot, f"mailbox {mailbox.from_email} is paused" + (
                f": {mailbox.pause_reason}" if mailbox.pause_reason else ""))
        return Held(slot, f"mailbox {mailbox.from_email} is at its sending limit")

    def _pool(self, sequence, now):
        slot = pool_earliest_slot(pool_id=sequence.mailbox_pool_id, tenant_id=sequence.tenant_id, domain="", at=now)
        if slot is None:
            return Held(now + NO_MAILBOX_RECHECK, "no active mailbox in the sequence's pool")
        if slot <= now:
            return None
        return Held(slot, "every mailbox of the pool is at its sending limit")

    def consume(self, verdicts, attempt, *, now):
        pass

    def explain(self, attempt, *, now, release):
        sequence = attempt.sequence
        held = self.hold({}, attempt, now=now)
        zone = contact_zone(attempt.contact, attempt.tenant)
        if sequence.mailbox_pool_id:
            if held:
                return Hold(self.name, f"The sequence's mailbox pool: {held.why}; it waits until "
                                       f"{local(release(held), zone)}.", active=True, until=release(held))
            return Hold(self.name, "Sent from the sequence's mailbox pool; a full pool defers it.")
        mailbox = sequence.sender_profile
        if mailbox is None:
            return Hold(self.name, "The sequence has no sender mailbox: delivery cannot send it.", active=True)
        if mailbox.status != "active":
            why = f" by the circuit breaker: {mailbox.pause_reason}" if mailbox.pause_reason else ""
            return Hold(self.name, f"Mailbox {mailbox.from_email} is paused{why}; nothing is sent from it until an "
                                   "admin resumes it.", active=True, until=release(held) if held else None)
        limits = f"{daily_cap(mailbox, at=now)} a day (today), {mailbox.hourly_cap} an hour"
        if held:
            return Hold(self.name, f"Mailbox {mailbox.from_email} is at its sending limit ({limits}); it waits until "
                                   f"{local(release(held), zone)}.", active=True, until=release(held))
        return Hold(self.name, f"Mailbox {mailbox.from_email}: up to {limits}.")
