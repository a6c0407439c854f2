"""Send-time gates that defer a step (move next_run_at, never drop it): the send window
and business days, the tenant's contact frequency cap, and the mailbox's limits.
Each is computed once per batch, not once per row."""
from collections import Counter
from datetime import timedelta

from django.db import connection

from scendcore.lookups import array_literal

from ..scheduling import contact_zone, defer_into_window, skip_weekend

# Messages that count against the contact frequency cap (approved and waiting in the
# outbox, on their way, or gone).
CAPPED_STATES = ("queued", "sending", "sent", "approved")
NO_MAILBOX_RECHECK = timedelta(hours=1)


def window_opening(*, now, step, contact, tenant):
    """(when, why) if the step may not fire at `now`, else None."""
    opens = defer_into_window(when=now, step=step, contact=contact, tenant=tenant)
    if opens <= now:
        return None
    local = now.astimezone(contact_zone(contact, tenant))
    if step.business_days_only and skip_weekend(local) != local:
        return opens, "business days only"
    return opens, "outside the send window"


# One probe of the (contact, created_at) index per contact of the batch, newest first, at
# most `limit` rows each: the LIMIT keeps PostgreSQL from flattening the probes into a scan
# of every recent message of the tenant (which it does when statistics are thin), so the
# cost follows the batch, never the size of the message table. No tenant condition: the
# contacts are the tenant's own (a contact belongs to one tenant), and with one the
# planner, on stale statistics, ANDed in the (tenant, state) index, which reads every
# message of the tenant once per contact (5 ms a probe at 100,000 messages).
CAPPED_SQL = """
SELECT m.contact_id, m.created_at, m.idempotency_key
FROM unnest(%(contacts)s::bigint[]) AS c(id)
CROSS JOIN LATERAL (
    SELECT contact_id, created_at, idempotency_key FROM messaging_outboundmessage
    WHERE contact_id = c.id AND created_at > %(since)s AND state = ANY(%(states)s::text[])
    ORDER BY created_at DESC
    LIMIT %(limit)s
) m
"""


class FrequencyCap:
    """Messages already counted against each contact's cap, loaded with one query per
    tenant of the batch, then kept current as the batch queues more. A repeated
    execution's own messages (`exclude_keys`) do not count against it."""

    def __init__(self, *, now, contacts_by_tenant, exclude_keys):
        self.now = now
        self.sent = {}  # contact_id -> sorted created_at list inside the tenant's window
        exclude_keys = set(exclude_keys)
        for tenant, contact_ids in contacts_by_tenant.items():
            if tenant.frequency_cap_messages and tenant.frequency_cap_hours and contact_ids:
                for contact_id, created in self._counted(tenant, contact_ids, exclude_keys):
                    self.sent.setdefault(contact_id, []).append(created)
        for times in self.sent.values():
            times.sort()

    def _counted(self, tenant, contact_ids, exclude):
        since = self.now - timedelta(hours=tenant.frequency_cap_hours)
        if connection.vendor == "postgresql":
            # The batch's own keys are left out here rather than in SQL, where checking
            # each row against a thousand keys cost more than the probes (and pushed the
            # cost estimate over the JIT threshold). A contact's newest `cap` messages
            # plus one per enrollment it has in this batch still hold its newest `cap`
            # that are not the batch's own.
            limit = tenant.frequency_cap_messages + max(Counter(contact_ids).values())
            with connection.cursor() as cursor:
                cursor.execute(CAPPED_SQL, {
                    "contacts": array_literal(list(set(contact_ids)))[0], "since": since,
                    "states": list(CAPPED_STATES), "limit": limit,
                })
                return [(contact, created) for contact, created, key in cursor.fetchall() if key not in exclude]
        from messaging.models import OutboundMessage

        return OutboundMessage.objects.filter(
            tenant=tenant, contact_id__in=contact_ids, created_at__gt=since, state__in=CAPPED_STATES,
        ).exclude(idempotency_key__in=exclude).order_by().values_list("contact_id", "created_at")

    def next_slot(self, *, contact, tenant):
        """None if the contact may get one more message now, else when it may."""
        cap, hours = tenant.frequency_cap_messages, tenant.frequency_cap_hours
        if not cap or not hours:
            return None
        sent = self.sent.get(contact.id)
        if not sent:
            return None
        window = timedelta(hours=hours)
        since = self.now - window
        times = [t for t in sent if t > since]
        if len(times) < cap:
            return None
        return times[len(times) - cap] + window

    def count(self, contact_id, at):
        self.sent.setdefault(contact_id, []).append(at)


class MailboxGate:
    """When each sequence's sender (its mailbox, or its pool) may send again; asked once
    per mailbox or pool per batch. Per-recipient-domain limits are checked again by
    delivery at send time, where the message is deferred in the outbox if needed."""

    def __init__(self, *, now):
        self.now = now
        self.verdicts = {}

    def next_slot(self, sequence):
        """None when the sequence's sender may send now, else (when, why)."""
        if sequence.mailbox_pool_id:
            key = ("pool", sequence.mailbox_pool_id)
            if key not in self.verdicts:
                self.verdicts[key] = self._pool(sequence)
        elif sequence.sender_profile_id:
            key = ("mailbox", sequence.sender_profile_id)
            if key not in self.verdicts:
                self.verdicts[key] = self._mailbox(sequence.sender_profile)
        else:
            return None
        return self.verdicts[key]

    def _mailbox(self, mailbox):
        from messaging.services.limits import mailbox_next_slot

        slot = mailbox_next_slot(mailbox=mailbox, recipient_domain="", at=self.now)
        if slot is None or slot <= self.now:
            return None
        if mailbox.status != "active":
            return slot, f"mailbox {mailbox.from_email} is paused" + (
                f": {mailbox.pause_reason}" if mailbox.pause_reason else "")
        return slot, f"mailbox {mailbox.from_email} is at its sending limit"

    def _pool(self, sequence):
        from messaging.services.pools import pool_earliest_slot

        slot = pool_earliest_slot(
            pool_id=sequence.mailbox_pool_id, tenant_id=sequence.tenant_id, domain="", at=self.now
        )
        if slot is None:
            return self.now + NO_MAILBOX_RECHECK, "no active mailbox in the sequence's pool"
        if slot <= self.now:
            return None
        return slot, "every mailbox of the pool is at its sending limit"
