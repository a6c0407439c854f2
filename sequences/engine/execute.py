"""The worker: execute the due steps of one claimed batch, set-based.

For each enrollment of the batch, in one transaction, in this order:
1. re-check now: suppressed contact → exit; converted/disqualified → exit; reply or
   meeting since enrollment (when the sequence stops on it) → pause; sequence paused →
   untouched (parked until it resumes); sequence archived → unenrolled;
2. gates that defer: send window / business days, the tenant's frequency cap, the
   mailbox's limits — each deferral is an activity row with its reason and new time;
3. the step's work, exactly once (idempotency key enrollment:step:pass): an agent job and
   an outbound message, or a task in the owner's inbox;
4. autonomy: a draft with review reasons waits in the approval queue, one without goes
   to the outbox and the enrollment moves on;
5. advance: the next step's due time, or completed.
All rows are read with one query and written with a handful of statements per batch
(writes.py); nothing is saved row by row.
"""
import logging
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from contacts.suppression import label as suppression_label
from contacts.suppression import suppression_reasons
from scendcore.tenancy import role_subquery

from ..models import ActivityKind, Channel, Enrollment, EnrollmentStatus, Sequence, SequenceStatus, WaitingOn
from ..lifecycle import jitter_seed
from ..scheduling import contact_zone, defer_into_window, next_run_at
from ..services.reactions import pending_work_cancel
from . import gates, reads, writes, work
from .sweep import PARKED, batch_size

logger = logging.getLogger(__name__)

MESSAGE_CHANNELS = (Channel.EMAIL, Channel.SMS)
TASK_CHANNELS = (Channel.TASK, Channel.CALL_REMINDER)
ENDED_LEADS = {"converted": "converted", "disqualified": "disqualified"}
ERROR_BACKOFF = timedelta(minutes=15)


class _NO_STEP:
    pk = None


def park_seconds():
    return 10 * getattr(settings, "PROCESSOR_INTERVAL_SECONDS", 60)


def process_batch(*, enrollment_ids, lease_owner, now=None):
    """Execute the batch leased to `lease_owner`. Returns a Counter-like dict of outcomes.
    A batch that fails as a whole is split until the failing row is alone; that row is
    deferred with the error recorded, so one bad row never blocks the others."""
    ids = list(enrollment_ids)
    try:
        return Batch(ids=ids, lease_owner=lease_owner, now=now).run()
    except (OperationalError, InterfaceError):
        raise  # the database went away: the lease runs out and a later sweep retries
    except Exception as exc:  # noqa: BLE001 - isolate the row that breaks the batch
        if len(ids) == 1:
            logger.exception("enrollment %s failed in the processor", ids[0])
            return _defer_broken(ids[0], lease_owner=lease_owner, now=now, error=exc)
        logger.warning("batch of %s failed (%r); splitting it", len(ids), exc)
        middle = len(ids) // 2
        report = defaultdict(int)
        for part in (ids[:middle], ids[middle:]):
            for key, value in process_batch(enrollment_ids=part, lease_owner=lease_owner, now=now).items():
                report[key] += value
        return dict(report)


def _defer_broken(enrollment_id, *, lease_owner, now, error):
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            Enrollment.objects.select_for_update()
            .filter(pk=enrollment_id, lease_owner=lease_owner).first()
        )
        if row is None:
            return {}
        retry = now + ERROR_BACKOFF
        Enrollment.objects.filter(pk=row.pk).update(
            next_run_at=retry if row.next_run_at else None, lease_owner="", lease_expires_at=None,
            updated_at=now,
        )
        writes.activities_write([writes.activity_row(
            enrollment=row, kind=ActivityKind.DEFERRED, step_id=row.current_step_id, at=now,
            detail=f"Processing error, retrying at {retry:%Y-%m-%d %H:%M} UTC: {type(error).__name__}: {error}",
            data={"reason": "error", "error": str(error)[:500], "next_run_at": retry.isoformat()},
        )])
    return {"error": 1}


class Batch:
    def __init__(self, *, ids, lease_owner, now):
        self.ids = ids
        self.owner = lease_owner
        self.now = now or timezone.now()
        self.report = defaultdict(int)
        self.activities = []
        self.cancel = defaultdict(list)  # reason -> enrollment ids whose pending work ends
        self.after_commit = []
        # Window verdicts and schedules depend on (step, contact timezone, tenant) and the
        # batch's one `now`, not on the row: most rows of a batch share one answer.
        self.memo = {}
        self.suppressed = {}  # contact id -> suppression reason, filled once per batch

    # ------------------------------------------------------------------ orchestration

    def run(self):
        started = time.perf_counter()
        with transaction.atomic():
            _no_jit()
            rows = reads.claimed_enrollments(ids=self.ids, lease_owner=self.owner)
            if not rows:
                return {}
            steps = self.attach(rows)
            self.execute(rows, steps)
            writes.enrollments_write(rows, lease_owner=self.owner, at=self.now)
            writes.activities_write(self.activities)
            for reason, ids in self.cancel.items():
                # No tenant: the batch spans tenants, and these ids are rows locked above.
                pending_work_cancel(enrollment_ids=ids, reason=reason, at=self.now, skip_tasks=True)
            for callback in self.after_commit:
                transaction.on_commit(callback)
            if len(self.ids) >= batch_size():
                transaction.on_commit(_kick_sweep)
        self.report["rows"] = len(rows)
        logger.debug("batch of %s done in %.0f ms", len(rows), (time.perf_counter() - started) * 1000)
        return dict(self.report)

    def attach(self, rows):
        """Sequences (with tenant, agent, mailbox, and the owner's role that the review
        policy reads) and steps are shared by many rows of a batch: read each once and
        attach the same object to every row."""
        sequences = {
            s.pk: s for s in Sequence.objects.select_related("tenant", "agent", "sender_profile")
            .annotate(owner_role=role_subquery(user_field="owner_id"))
            .filter(pk__any=list({e.sequence_id for e in rows}))
        }
        steps = work.steps_by_sequence(sequences)
        by_id = {step.id: step for listed in steps.values() for step in listed}
        for e in rows:
            reads.attach(e, "sequence", sequences[e.sequence_id])
            reads.attach(e, "current_step", by_id.get(e.current_step_id))
        return steps

    def execute(self, rows, steps):
        # The suppression rule for the whole batch: the contacts' own flags and one query
        # to the suppression list (an address may be listed with no flag on the contact).
        self.suppressed = suppression_reasons(e.contact for e in rows)
        ready = []
        for e in rows:
            outcome = self.recheck(e)
            if outcome is None:
                ready.append(e)
        ready = self.gate(ready)
        if ready:
            work.StepWork(batch=self, enrollments=ready, steps=steps).run()
        for e in rows:
            self.release(e)

    # ------------------------------------------------------------------ 1. re-check

    def recheck(self, e):
        """Handle everything that stops the step before any gate; None means go on."""
        if e.status != EnrollmentStatus.ACTIVE or e.next_run_at is None or e.next_run_at > self.now:
            self.report["not_due"] += 1
            return "not_due"  # changed since the claim (paused, rescheduled …): just release
        contact, sequence = e.contact, e.sequence
        if contact.id in self.suppressed:
            return self.exit(e, suppression_label(self.suppressed[contact.id]))
        if contact.lead_status in ENDED_LEADS:
            return self.exit(e, ENDED_LEADS[contact.lead_status])
        if sequence.status == SequenceStatus.ARCHIVED:
            return self.exit(e, "sequence archived")
        if sequence.status != SequenceStatus.ACTIVE:
            e.lease_owner = PARKED
            e.lease_expires_at = self.now + timedelta(seconds=park_seconds())
            self.report["parked"] += 1
            return "parked"
        if sequence.stop_on_reply and contact.last_replied_at and contact.last_replied_at > e.enrolled_at:
            return self.pause(e, "replied")
        if sequence.stop_on_meeting and contact.last_meeting_at and contact.last_meeting_at > e.enrolled_at:
            return self.pause(e, "meeting booked")
        if e.current_step is None:
            self.activity(e, ActivityKind.COMPLETED, "The step it was on no longer exists")
            return self.finish(e)
        return None

    # ------------------------------------------------------------------ 2. gates

    def gate(self, ready):
        tenants = defaultdict(list)
        keys = []
        for e in ready:
            if e.current_step.channel in MESSAGE_CHANNELS:
                tenants[e.sequence.tenant].append(e.contact_id)
                keys.append(work.key_of(e))
        cap = gates.FrequencyCap(now=self.now, contacts_by_tenant=tenants, exclude_keys=keys)
        mailboxes = gates.MailboxGate(now=self.now)
        passed = []
        for e in ready:
            step, contact, tenant = e.current_step, e.contact, e.sequence.tenant
            key = ("window", step.id, contact.timezone, tenant.id)
            if key not in self.memo:
                self.memo[key] = gates.window_opening(now=self.now, step=step, contact=contact, tenant=tenant)
            held = self.memo[key]
            if held is None and step.channel in MESSAGE_CHANNELS:
                slot = cap.next_slot(contact=contact, tenant=tenant)
                if slot is not None:
                    held = slot, (f"frequency cap ({tenant.frequency_cap_messages} per "
                                  f"{tenant.frequency_cap_hours} h across all sequences)")
            if held is None and step.channel == Channel.EMAIL:
                held = mailboxes.next_slot(e.sequence)
            if held is None:
                if step.channel in MESSAGE_CHANNELS:
                    # Counted now, so a second sequence due for the same contact in this
                    # batch is deferred too (a draft held for review counts, to be safe).
                    cap.count(contact.id, self.now)
                passed.append(e)
            else:
                self.defer(e, *held)
        return passed

    # ------------------------------------------------------------------ outcomes

    def activity(self, e, kind, detail, data=None, step=None):
        self.activities.append(writes.activity_row(
            enrollment=e, kind=str(kind), detail=detail, step_id=(step or e.current_step or _NO_STEP).pk,
            data=data, at=self.now,
        ))

    def local(self, e, when):
        zone = contact_zone(e.contact, e.sequence.tenant)
        return f"{when.astimezone(zone):%a %Y-%m-%d %H:%M} {zone.key}"

    def defer(self, e, when, why):
        when = max(when, self.now + timedelta(seconds=1))
        when = defer_into_window(when=when, step=e.current_step, contact=e.contact, tenant=e.sequence.tenant)
        e.next_run_at = when
        self.activity(e, ActivityKind.DEFERRED, f"Deferred ({why}) to {self.local(e, when)}",
                      data={"reason": why, "next_run_at": when.isoformat()})
        self.report["deferred"] += 1
        return "deferred"

    def exit(self, e, reason):
        e.status = EnrollmentStatus.UNENROLLED
        e.exit_reason = reason[:64]
        e.next_run_at = None
        e.waiting_on = WaitingOn.NOTHING
        e.finished_at = self.now
        self.activity(e, ActivityKind.EXITED, reason)
        self.cancel[reason].append(e.id)
        self.report["exited"] += 1
        return "exited"

    def pause(self, e, reason):
        e.status = EnrollmentStatus.PAUSED
        e.pause_reason = reason[:64]
        self.activity(e, ActivityKind.PAUSED, reason)
        self.cancel[reason].append(e.id)
        self.report["paused"] += 1
        return "paused"

    def wait(self, e, on, detail):
        e.waiting_on = on
        e.next_run_at = None
        self.activity(e, ActivityKind.WAITING, detail or WaitingOn(on).label)
        self.report[f"waiting_{on}"] += 1

    def finish(self, e):
        e.status = EnrollmentStatus.COMPLETED
        e.next_run_at = None
        e.waiting_on = WaitingOn.NOTHING
        e.finished_at = self.now
        self.report["completed"] += 1
        return "completed"

    def advance(self, e, steps, *, executed=None, skipped=None):
        """The current step is done (or skipped): schedule the next one or complete."""
        current = e.current_step
        if skipped:
            self.activity(e, ActivityKind.STEP_SKIPPED, skipped)
        else:
            self.activity(e, ActivityKind.STEP_EXECUTED, executed or "Step executed")
        self.report["executed" if not skipped else "skipped"] += 1
        e.last_step_at = self.now
        following = work.step_after(steps, current)
        if following is None:
            self.finish(e)
            self.activity(e, ActivityKind.COMPLETED, "Finished all steps", step=current)
            return
        e.current_step = following
        e.step_pass = 1
        e.waiting_on = WaitingOn.NOTHING
        if following.jitter_minutes:  # jitter is seeded per enrollment: nothing to share
            e.next_run_at, detail, data = self.schedule(e, following)
        else:
            key = ("schedule", following.id, e.contact.timezone, e.sequence.tenant.id)
            if key not in self.memo:
                self.memo[key] = self.schedule(e, following)
            e.next_run_at, detail, data = self.memo[key]
        self.activity(e, ActivityKind.STEP_SCHEDULED, detail, data=data, step=following)

    def schedule(self, e, step):
        """When `step` is due for `e` counting from now, the activity line saying so and
        its data (one object shared by the rows that share the schedule: written once)."""
        when = next_run_at(step=step, after=self.now, contact=e.contact, tenant=e.sequence.tenant,
                           seed=jitter_seed(e, step))
        detail = f"Step {step.order} ({step.get_channel_display()}) due {self.local(e, when)}"
        return when, detail, {"next_run_at": when.isoformat()}

    def release(self, e):
        if e.lease_owner != PARKED:
            e.lease_owner = ""
            e.lease_expires_at = None


def _no_jit():
    """JIT compilation off for this transaction. A batch's statements each cover a
    thousand rows, which PostgreSQL's cost model can price above jit_above_cost (stale
    statistics make it likelier); compiling then took 10-300 ms for statements that run
    in 5."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _kick_sweep():
    """A full batch suggests more is due: ask for the next sweep now instead of at the
    next beat (the sweep's in-flight cap keeps this from flooding the broker)."""
    from celery import current_app

    if current_app.conf.task_always_eager:
        return  # an eager sweep already loops until nothing is due
    from .. import tasks

    tasks.sweep.delay()

