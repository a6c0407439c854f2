"""The worker: execute the due steps of one claimed batch, set-based.

For each enrollment of the batch, in one transaction, in this order:
1. re-check now: suppressed contact → exit; a goal of the sequence reached → the goal's
   exit or move; converted/disqualified → exit (unless the exit rules turn it off); reply
   or meeting since enrollment → pause, or exit, by the exit rules (engine.exits; {} is
   "pause when the sequence stops on it"); no engagement in the rules' N days → exit;
   sequence paused → untouched (parked until it resumes); sequence archived →
   unenrolled; a step of a kind no step type runs → failed, with the error shown;
2. gates that defer (every gate registered in scendcore.gates: a delay counted from the
   previous message's send, send window / business days, the tenant's frequency cap,
   the mailbox's limits) — each deferral is an
   activity row with its reason and new time;
3. the step's work, exactly once, by its step type (engine.steps): an agent job and an
   outbound message, or a task in the owner's inbox (idempotency key enrollment:step:pass);
   an instant node (branch, split, action, exit) is resolved in the same batch, and so is
   whatever it leads to that is due now, round after round, up to MAX_HOPS instant
   nodes in a row (then the enrollment fails, with why);
4. autonomy: a draft with review reasons waits in the approval queue, one without goes
   to the outbox and the enrollment moves on;
5. advance: the next step's due time, or completed.
Every change is a transition of sequences.flow; all rows are read with one query and
written with a handful of statements per batch (flow.store); nothing is saved row by row.
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
from scendcore import gates as gate_registry
from scendcore import jobs
from scendcore.tenancy import role_subquery

from ..flow import navigator, store, transitions
from ..models import Enrollment, EnrollmentStatus, Sequence, SequenceStatus, StepKind, WaitingOn
from ..services.goals import goals_apply
from ..services.reactions import pending_work_cancel
from . import holds, reads
from .exits import RuleState
from . import steps as step_types
from .sweep import batch_size
from .work import StepWork

logger = logging.getLogger(__name__)

ENDED_LEADS = {"converted": "converted", "disqualified": "disqualified"}
GATED_KINDS = (StepKind.MESSAGE, StepKind.TASK)
ERROR_BACKOFF = timedelta(minutes=15)
# Instant nodes (branch, split, action, exit) resolved for one enrollment in one batch;
# more means a loop without a waiting node (publishing refuses those; an older or
# hand-made graph may still have one).
MAX_HOPS = 50
TOO_MANY_HOPS = f"more than {MAX_HOPS} instant steps in a row: check the flow for a loop"


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
            Enrollment.objects.select_for_update(of=("self",)).select_related("sequence__tenant", "contact")
            .filter(pk=enrollment_id, lease_owner=lease_owner).first()
        )
        if row is None:
            return {}
        rows = []
        if row.next_run_at is not None:
            rows = transitions.defer(row, now + ERROR_BACKOFF, f"processing error: {type(error).__name__}: {error}",
                                     at=now, gate="error")
        transitions.release(row)
        store.save(row, rows, at=now)
    return {"error": 1}


class Batch:
    def __init__(self, *, ids, lease_owner, now):
        self.ids = ids
        self.owner = lease_owner
        self.now = now or timezone.now()
        self.report = defaultdict(int)
        self.activities = []
        self.cancel = defaultdict(list)  # reason -> enrollment ids whose pending work ends
        self.graphs = {}  # version id -> its graph (navigator.Graph)
        self.schedule = transitions.shared_schedule()
        self.suppressed = {}  # contact id -> suppression reason, filled once per batch
        # Work that goes through other services once the batch's rows are written (in the
        # same transaction): a fact they record may react on these very enrollments (a
        # lead status that ends outreach, a goal), and must see their new state.
        self.after_save = []
        self.exits = None  # the batch's goals and exit rules (engine.exits.RuleState)
        self.reached = []  # (enrollment, goal, because) of the goals reached in the re-check

    # ------------------------------------------------------------------ orchestration

    def run(self):
        started = time.perf_counter()
        with transaction.atomic():
            _no_jit()
            rows = reads.claimed_enrollments(ids=self.ids, lease_owner=self.owner)
            if not rows:
                return {}
            self.attach(rows)
            self.execute(rows)
            store.save_batch(rows, self.activities, at=self.now)
            for reason, ids in self.cancel.items():
                # No tenant: the batch spans tenants, and these ids are rows locked above.
                pending_work_cancel(enrollment_ids=ids, reason=reason, at=self.now, skip_tasks=True)
            later = []
            for effect in self.after_save:
                later += effect() or []
            if later:
                store.activities_write(later)
            if len(self.ids) >= batch_size():
                _kick_sweep()
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
        versions = {e.version_id or sequences[e.sequence_id].current_version_id for e in rows}
        self.graphs = navigator.graphs_of(versions)
        by_id = {step.id: step for graph in self.graphs.values() for step in graph}
        for e in rows:
            reads.attach(e, "sequence", sequences[e.sequence_id])
            reads.attach(e, "current_step", by_id.get(e.current_step_id))

    def execute(self, rows):
        # The suppression rule for the whole batch: the contacts' own flags and one query
        # to the suppression list (an address may be listed with no flag on the contact).
        self.suppressed = suppression_reasons(e.contact for e in rows)
        self.exits = RuleState(rows)
        ready = [e for e in rows if self.recheck(e) is None]
        if self.reached:
            activities, finish = goals_apply(self.reached, at=self.now)
            self.activities += activities
            self.cancel["goal reached"] += [e.id for e, _, _ in self.reached]
            self.report["goal_reached"] += len(self.reached)
            self.after_save.append(finish)  # GoalReached rows, then moves to the goals' sequences
        hops = defaultdict(int)  # enrollment id -> instant nodes resolved in this batch
        work = StepWork(batch=self)
        while ready:
            # One round per node depth, not per row: the statements stay constant in the
            # batch size (each step type runs once per round for all its rows).
            instant, sending = [], []
            for e in ready:
                if step_types.step_type(e.current_step.kind).instant:
                    hops[e.id] += 1
                    instant.append(e)
                else:
                    sending.append(e)
            instant_ids = {e.id for e in instant}
            passed = instant + self.gate(sending)  # instant nodes contact nobody: no gate holds them
            before = {e.id: (e.current_step_id, e.step_pass, e.id in instant_ids) for e in passed}
            by_kind = defaultdict(list)
            for e in passed:
                by_kind[e.current_step.kind].append(e)
            for kind, enrollments in by_kind.items():
                step_types.step_type(kind).run(work, enrollments)
            ready = self.hop(passed, before, hops)
        for e in rows:
            transitions.release(e)

    def hop(self, passed, before, hops):
        """The enrollments of `passed` to run again in this batch: those now on an
        instant node that is due, and those an instant node led to a node that sends,
        waits or creates a task with no delay. At most MAX_HOPS instant nodes in a row."""
        again = []
        for e in passed:
            step_id, step_pass, left_instant = before[e.id]
            moved = (e.current_step_id, e.step_pass) != (step_id, step_pass)
            if not moved or not self.due_now(e):
                continue
            try:
                kind = step_types.step_type(e.current_step.kind)
            except step_types.UnknownStepKind as exc:
                self.fail(e, f"“{e.current_step.title or e.current_step.key}”: {exc}")
                continue
            if kind.instant:
                if hops[e.id] >= MAX_HOPS:
                    self.fail(e, TOO_MANY_HOPS)
                    continue
                again.append(e)
            elif left_instant:
                again.append(e)
        return again

    def due_now(self, e):
        return (e.status == EnrollmentStatus.ACTIVE and e.current_step is not None and e.waiting_on == WaitingOn.NOTHING
                and e.next_run_at is not None and e.next_run_at <= self.now)

    # ------------------------------------------------------------------ 1. re-check

    def recheck(self, e):
        """Handle everything that stops the step before any gate; None means go on."""
        if e.status != EnrollmentStatus.ACTIVE or e.next_run_at is None or e.next_run_at > self.now:
            self.report["not_due"] += 1
            return "not_due"  # changed since the claim (paused, rescheduled …): just release
        contact, sequence = e.contact, e.sequence
        if contact.id in self.suppressed:
            return self.exit(e, suppression_label(self.suppressed[contact.id]))
        reached = self.exits.goal_reached(e)
        if reached is not None:
            self.reached.append((e, *reached))
            return "goal"
        if self.exits.rules[e.pk].ends_lead(contact.lead_status):
            return self.exit(e, ENDED_LEADS[contact.lead_status])
        if sequence.status == SequenceStatus.ARCHIVED:
            return self.exit(e, "sequence archived")
        if sequence.status != SequenceStatus.ACTIVE:
            transitions.park(e, until=self.now + timedelta(seconds=park_seconds()))
            self.report["parked"] += 1
            return "parked"
        on_reply, reason = self.exits.on_reply(e)
        if on_reply == "exit":
            return self.leave(e, reason)
        if on_reply == "pause":
            return self.pause(e, "replied")
        on_meeting = self.exits.on_meeting(e)
        if on_meeting:
            return (self.leave if on_meeting == "exit" else self.pause)(e, "meeting booked")
        disengaged = self.exits.disengaged(e, self.now)
        if disengaged:
            return self.leave(e, disengaged)
        if e.current_step is None:
            self.activities += transitions.finish(e, at=self.now, detail="The step it was on no longer exists")
            self.report["completed"] += 1
            return "completed"
        try:
            step_types.step_type(e.current_step.kind)
        except step_types.UnknownStepKind as exc:
            self.activities += transitions.fail(e, f"step {e.current_step.order}: {exc}", at=self.now)
            self.report["failed"] += 1
            return "failed"
        return None

    # ------------------------------------------------------------------ 2. gates

    def gate(self, ready):
        # Gates hold what reaches the contact or the rep (a send, a task); a wait or a
        # branch is not theirs to hold.
        passed = [e for e in ready if e.current_step.kind not in GATED_KINDS]
        ready = [e for e in ready if e.current_step.kind in GATED_KINDS]
        if not ready:
            return passed
        gates = gate_registry.registered()
        attempts = [holds.attempt_for(e) for e in ready]
        prepared = {gate.name: gate.prepare(attempts, now=self.now, phase=gate_registry.PROCESS) for gate in gates}
        for e, attempt in zip(ready, attempts):
            gate, held = gate_registry.first_hold(gates, prepared, attempt, now=self.now)
            if held is None:
                for each in gates:
                    if each.applies(attempt):
                        each.consume(prepared[each.name], attempt, now=self.now)
                passed.append(e)
            else:
                when = holds.release_at(held, attempt, now=self.now)
                self.activities += transitions.defer(e, when, held.why, at=self.now, gate=gate.name)
                self.report["deferred"] += 1
        return passed

    # ------------------------------------------------------------------ outcomes (used by the step types)

    def exit(self, e, reason):
        self.activities += transitions.exit(e, reason, at=self.now)
        self.cancel[reason].append(e.id)
        self.report["exited"] += 1
        return "exited"

    def leave(self, e, reason, *, data=None):
        """The flow ends the enrollment (an exit node, a split's holdout): exited, with
        the step's pending work cancelled."""
        self.activities += transitions.leave(e, reason, at=self.now, data=data)
        self.cancel[reason].append(e.id)
        self.report["exited"] += 1
        return "exited"

    def fail(self, e, error):
        self.activities += transitions.fail(e, error, at=self.now)
        self.report["failed"] += 1
        return "failed"

    def pause(self, e, reason):
        self.activities += transitions.pause(e, reason, at=self.now)
        self.cancel[reason].append(e.id)
        self.report["paused"] += 1
        return "paused"

    def wait(self, e, on, detail):
        self.activities += transitions.wait(e, on, at=self.now, detail=detail)
        self.report[f"waiting_{WaitingOn(on).value}"] += 1

    def graph_for(self, e):
        return self.graphs[e.current_step.version_id]

    def advance(self, e, *, executed="", skipped="", label=navigator.NEXT):
        """The current step is done (or skipped): schedule the node its path `label`
        leads to, or complete."""
        following = self.graph_for(e).follow(e.current_step, label)
        self.activities += transitions.advance(e, following, at=self.now, executed=executed, skipped=skipped,
                                               schedule=self.schedule)
        self.report["skipped" if skipped else "executed"] += 1
        if following is None:
            self.report["completed"] += 1


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
    jobs.start("sequences.sweep")
