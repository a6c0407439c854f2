"""From an enrollment to what the gates judge, and from a gate's verdict to the moment
the step is due again. The processor and the enrollment page both use these, so the
page names the release time the processor will use."""
from datetime import timedelta

from scendcore.gates import Attempt

from ..scheduling import defer_into_window


def attempt_for(e):
    """The gates' view of an enrollment's current step (contact, sequence and step attached)."""
    step = e.current_step
    return Attempt(
        tenant=e.sequence.tenant, contact=e.contact, step=step, channel=step.channel, sequence=e.sequence,
        key=f"{e.id}:{e.current_step_id}:{e.step_pass}", test_mode=e.sequence.test_mode,
    )


def release_at(held, attempt, *, now):
    """When a held step is due again: the gate's time (at least a second from now), moved
    into the step's send window if it falls outside it."""
    when = max(held.until, now + timedelta(seconds=1))
    return defer_into_window(when=when, step=attempt.step, contact=attempt.contact, tenant=attempt.tenant)
