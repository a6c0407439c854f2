"""A step's delay counts from when the previous step's message was actually sent.

The enrollment moves on when a message is approved or queued, and schedules the next
step from then; delivery can hold the message for days after that (the frequency cap,
a mailbox's limits, a send window at send time). This gate holds the next step until
its delay has passed since the send, and while the message is still on its way."""
from datetime import timedelta
from types import SimpleNamespace

from messaging.models import MessageState, OutboundMessage
from scendcore.gates import Held, Hold

from ...flow.transitions import jitter_seed
from ...scheduling import contact_zone, next_run_at
from .wording import local

# Delivery follows queueing within moments; holding a follow-up for those seconds would
# only add a deferral to the timeline.
SLACK = timedelta(minutes=1)
# Still on its way: approved or queued for delivery, or being handed to the server.
ON_ITS_WAY = (MessageState.APPROVED, MessageState.QUEUED, MessageState.SENDING)
UNSENT_RECHECK = timedelta(minutes=10)
UNSENT = "the previous message has not been sent yet; this step's delay counts from when it is"


def _key_parts(attempt):
    enrollment_id, _, step_pass = attempt.key.split(":")
    return int(enrollment_id), int(step_pass)


class AfterSentGate:
    name = "after_sent"
    order = 5
    recheck_at_send = False  # a step's own message never waits for itself

    def applies(self, attempt):
        return bool(attempt.key) and attempt.step is not None and attempt.step.order > 1

    def prepare(self, attempts, *, now, phase):
        """enrollment id -> the message of the pass before the current one (the previous
        step's: every advance starts a new pass), one query for the batch."""
        wanted = {}
        for attempt in attempts:
            if self.applies(attempt):
                enrollment_id, step_pass = _key_parts(attempt)
                wanted[enrollment_id] = step_pass - 1
        if not wanted:
            return {}
        rows = (
            OutboundMessage.objects.filter(enrollment_id__in=list(wanted), step_pass__in=set(wanted.values()))
            .only("enrollment_id", "step_pass", "state", "sent_at", "next_attempt_at", "subject", "channel")
        )
        return {m.enrollment_id: m for m in rows if wanted[m.enrollment_id] == m.step_pass}

    def hold(self, previous, attempt, *, now):
        message = previous.get(_key_parts(attempt)[0])
        if message is None:
            return None
        if message.state in ON_ITS_WAY:
            start = max(message.next_attempt_at or now, now) + UNSENT_RECHECK
            return Held(self._due(attempt, start), UNSENT)
        if message.state != MessageState.SENT or message.sent_at is None:
            return None  # failed, cancelled, bounced, unknown: nothing more will go out to wait for
        due = self._due(attempt, message.sent_at)
        if due <= now + SLACK:
            return None
        zone = contact_zone(attempt.contact, attempt.tenant)
        return Held(due, f"its delay counts from when the previous message was sent, {local(message.sent_at, zone)}")

    def _due(self, attempt, after):
        enrollment_id, step_pass = _key_parts(attempt)
        row = SimpleNamespace(sequence_id=attempt.sequence.id, contact_id=attempt.contact.id, step_pass=step_pass)
        return next_run_at(step=attempt.step, after=after, contact=attempt.contact, tenant=attempt.tenant,
                           seed=jitter_seed(row, attempt.step))

    def consume(self, previous, attempt, *, now):
        pass

    def explain(self, attempt, *, now, release):
        held = self.hold(self.prepare([attempt], now=now, phase=None), attempt, now=now)
        if held is None:
            return None
        zone = contact_zone(attempt.contact, attempt.tenant)
        return Hold(self.name, f"Counted from the send: {held.why}, so it waits until {local(release(held), zone)}.",
                    active=True, until=release(held))
