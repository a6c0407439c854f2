"""The tenant's contact frequency cap: at most N messages per H hours to one contact,
across all sequences, over a true sliding window (messaging.services.limits.window_opens).

What counts depends on when it is asked. The processor, holding a step back, counts
messages by when they were created, queued ones included: otherwise two sequences could
each queue a message for one contact. Delivery, at send time and under the contact's row
lock, counts only what was sent or is on its way: two queued messages would otherwise
hold each other back."""
from collections import Counter
from datetime import timedelta

from django.db import connection
from django.db.models import Q

from messaging.models import CAPPED_STATES, IN_FLIGHT_STATES, MessageState, OutboundMessage
from messaging.services.limits import window_opens
from scendcore.gates import PROCESS, Held, Hold
from scendcore.lookups import array_literal

from ...models import Channel
from ...scheduling import contact_zone
from .wording import local

MESSAGE_CHANNELS = (Channel.EMAIL, Channel.SMS)

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
      AND test_intended_to = ''
    ORDER BY created_at DESC
    LIMIT %(limit)s
) m
"""


def _cap(tenant):
    """(messages, window) of the tenant's cap, or None when it has none."""
    if not tenant.frequency_cap_messages or not tenant.frequency_cap_hours:
        return None
    return tenant.frequency_cap_messages, timedelta(hours=tenant.frequency_cap_hours)


def _why(tenant):
    return f"frequency cap ({tenant.frequency_cap_messages} per {tenant.frequency_cap_hours} h across all sequences)"


class FrequencyCapGate:
    name = "frequency_cap"
    order = 20
    recheck_at_send = True

    def applies(self, attempt):
        # A test-mode message reaches the rep, not the contact: the cap protects the contact.
        return attempt.channel in MESSAGE_CHANNELS and not attempt.test_mode

    def prepare(self, attempts, *, now, phase):
        """contact id -> the times (oldest first) that count against the cap."""
        counted = {}
        if phase == PROCESS:
            by_tenant, tenants = {}, {}
            for attempt in attempts:
                if self.applies(attempt) and _cap(attempt.tenant):
                    by_tenant.setdefault(attempt.tenant.id, []).append(attempt.contact.id)
                    tenants[attempt.tenant.id] = attempt.tenant
            exclude = {attempt.key for attempt in attempts}
            for tenant_id, contact_ids in by_tenant.items():
                for contact_id, created in self._created(tenants[tenant_id], contact_ids, exclude, now):
                    counted.setdefault(contact_id, []).append(created)
        else:
            for attempt in attempts:
                if self.applies(attempt) and _cap(attempt.tenant):
                    counted[attempt.contact.id] = self._sent(attempt, now)
        for times in counted.values():
            times.sort()
        return counted

    def _created(self, tenant, contact_ids, exclude, now):
        since = now - _cap(tenant)[1]
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
                    "states": [str(state) for state in CAPPED_STATES], "limit": limit,
                })
                return [(contact, created) for contact, created, key in cursor.fetchall() if key not in exclude]
        return OutboundMessage.objects.filter(
            tenant=tenant, contact_id__in=contact_ids, created_at__gt=since, state__in=CAPPED_STATES,
            test_intended_to="",
        ).exclude(idempotency_key__in=exclude).order_by().values_list("contact_id", "created_at")

    def _sent(self, attempt, now):
        cutoff = now - _cap(attempt.tenant)[1]
        # Test-mode messages went to the rep: they never count against the contact.
        rows = OutboundMessage.objects.filter(tenant=attempt.tenant, contact=attempt.contact,
                                              test_intended_to="").filter(
            Q(state=MessageState.SENT, sent_at__gt=cutoff) | Q(state__in=IN_FLIGHT_STATES, updated_at__gt=cutoff)
        )
        if attempt.message_id is not None:
            rows = rows.exclude(pk=attempt.message_id)
        return [r.sent_at or r.updated_at for r in rows.only("sent_at", "updated_at")]

    def _in_window(self, counted, attempt, now):
        cap = _cap(attempt.tenant)
        since = now - cap[1]
        return [t for t in counted.get(attempt.contact.id, ()) if t > since]

    def hold(self, counted, attempt, *, now):
        cap = _cap(attempt.tenant)
        if cap is None or not counted.get(attempt.contact.id):
            return None
        until = window_opens(self._in_window(counted, attempt, now), cap[0], cap[1], now)
        return Held(until, _why(attempt.tenant)) if until is not None else None

    def consume(self, counted, attempt, *, now):
        # Counted now, so a second sequence due for the same contact in this batch is
        # deferred too (a draft held for review counts, to be safe).
        if _cap(attempt.tenant):
            counted.setdefault(attempt.contact.id, []).append(now)

    def explain(self, attempt, *, now, release):
        tenant = attempt.tenant
        cap = _cap(tenant)
        if cap is None:
            return None
        messages, hours = tenant.frequency_cap_messages, tenant.frequency_cap_hours
        counted = self.prepare([attempt], now=now, phase=PROCESS)
        held = self.hold(counted, attempt, now=now)
        if held is not None:
            zone = contact_zone(attempt.contact, tenant)
            return Hold(self.name, f"Held by the frequency cap ({messages} per {hours} h across all sequences): "
                                   f"{self._filler(attempt, now, held, zone)}the window frees at "
                                   f"{local(held.until, zone)}; the cap is reached, so it waits until "
                                   f"{local(release(held), zone)}.",
                        active=True, until=release(held))
        return Hold(self.name, f"Frequency cap: at most {messages} message{'s' if messages != 1 else ''} per "
                               f"{hours} h to this contact across all sequences "
                               f"({len(self._in_window(counted, attempt, now))} in the window when it is due).")

    def _filler(self, attempt, now, held, zone):
        """The message whose leaving frees the window (the processor counts messages by
        when they were created), worded for the enrollment page."""
        window = _cap(attempt.tenant)[1]
        message = (
            OutboundMessage.objects.filter(
                tenant=attempt.tenant, contact=attempt.contact, state__in=CAPPED_STATES,
                created_at__gt=now - window, created_at__lte=held.until - window,
            ).exclude(idempotency_key=attempt.key).order_by("-created_at").first()
        )
        if message is None:
            return ""
        name = f"“{message.subject}”" if message.subject else f"the {message.get_channel_display()} message"
        if message.state == MessageState.SENT and message.sent_at:
            return f"{name} was sent {local(message.sent_at, zone)}, "
        return f"{name} was queued {local(message.created_at, zone)}, "
