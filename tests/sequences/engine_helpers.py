"""Builders shared by the processor's tests: a running sequence whose enrollments are
due at a fixed, controllable moment."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from sequences.engine import sweep
from tests.factories import AgentFactory, ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory, manager_of

# A Wednesday, 11:00 in New York (the contacts' timezone in the factories).
WEDNESDAY = datetime(2025, 6, 11, 15, 0, tzinfo=dt_timezone.utc)


def running_sequence(tenant, *, steps=3, autonomy="auto_send", delay_days=2, **fields):
    """An active sequence owned by a manager (whose drafts the agent's autonomy routes)
    unless `owner=` says otherwise."""
    agent = AgentFactory(tenant=tenant, autonomy=autonomy)
    if "owner" not in fields:
        fields["owner"] = manager_of(tenant)
    sequence = SequenceFactory(tenant=tenant, agent=agent, **{"status": "active", **fields})
    made = [
        StepFactory(sequence=sequence, order=n, delay_value=0 if n == 1 else delay_days,
                    job_type="initial_outreach" if n == 1 else "follow_up")
        for n in range(1, steps + 1)
    ]
    return sequence, made


def due_enrollment(sequence, step, *, at=WEDNESDAY, contact=None, **fields):
    contact = contact or ContactFactory(tenant=sequence.tenant)
    return EnrollmentFactory(
        tenant=sequence.tenant, sequence=sequence, contact=contact, current_step=step,
        next_run_at=at - timedelta(minutes=1), **{"enrolled_at": at - timedelta(days=1), **fields},
    )


def sweep_inline(now=WEDNESDAY, **kwargs):
    """One sweep whose batches run in this process, at `now`."""
    from sequences.engine import execute

    reports = []

    def dispatch(ids, owner, at):
        reports.append(execute.process_batch(enrollment_ids=ids, lease_owner=owner, now=now))

    claimed = sweep.run(now=now, dispatch=dispatch, **kwargs)
    return claimed, reports
