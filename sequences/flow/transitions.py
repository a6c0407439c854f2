"""What each change does to one enrollment held in memory, and the activity rows that
record it (DESIGN invariant 6), worded once: times in the contact's zone, named.

Nothing here reads or writes the database. A service locks one enrollment, applies a
transition and writes the result with `store.save`; the processor applies them to a
whole batch and writes it with `store.save_batch`. Callers own the transaction, the
locks, and side effects such as cancelling a step's pending work.

A transition that does not apply to the enrollment's state raises `Refused`; one that
always applies returns its rows. `step_pass` only ever grows: every visit of a step is a
new pass, so the work a visit creates has its own idempotency key. Entering a node counts
a visit (`visits`); a node entered more often than its `max_visits` fails the enrollment.
"""
from ..models import ActivityKind, EnrollmentStatus, WaitingOn
from ..scheduling import next_run_at, waits_for_event
from . import store, wording

OPEN = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
# Rows of a paused sequence are parked under this owner instead of being claimed again
# at every sweep; resuming the sequence or the park running out frees them.
PARKED = "parked"


class Refused(Exception):
    """The enrollment is not in a state this transition starts from."""


def _row(e, kind, detail, *, at, step_id, data=None, actor=None):
    return store.activity_row(
        enrollment=e, kind=kind, detail=detail, step_id=step_id, data=data, actor_id=getattr(actor, "pk", None),
        at=at,
    )


def jitter_seed(e, step):
    # Independent of the enrollment's id, so rows enrolled in bulk get theirs before insert.
    return f"{e.sequence_id}:{e.contact_id}:{step.pk}:{e.step_pass}"


def scheduled(e, step, after):
    """(when, detail, data): when `step` is due for `e` counting from `after`, and how the
    schedule is recorded. The processor passes a memoised equivalent."""
    when = next_run_at(step=step, after=after, contact=e.contact, tenant=e.sequence.tenant, seed=jitter_seed(e, step))
    return when, wording.due(step, when, wording.zone_of(e)), {"next_run_at": when.isoformat()}


def shared_schedule():
    """A `schedule` that works out each (step, contact's zone, tenant, start) once: the
    rows of a batch or of a bulk enrollment mostly share one answer, and the shared data
    object is then written once. Jitter is per row, so a jittered step is not shared."""
    memo = {}

    def schedule(e, step, after):
        if step.jitter_minutes:
            return scheduled(e, step, after)
        key = (step.id, e.contact.timezone, e.sequence.tenant_id, after)
        if key not in memo:
            memo[key] = scheduled(e, step, after)
        return memo[key]

    return schedule


def entering(step):
    """What an enrollment waits on as it enters `step`: a wait for an event waits for
    it from the moment it is entered (its due time is the timeout); any other step
    waits for nothing until it runs."""
    return WaitingOn.EVENT if waits_for_event(step) else WaitingOn.NOTHING


def release(e):
    """Give the row back to the sweep (a parked row stays parked)."""
    if e.lease_owner != PARKED:
        e.lease_owner = ""
        e.lease_expires_at = None


def park(e, *, until):
    e.lease_owner = PARKED
    e.lease_expires_at = until


def _drop_lease(e):
    e.lease_owner = ""
    e.lease_expires_at = None


# ------------------------------------------------------------------ visits

DEFAULT_MAX_VISITS = 10


def max_visits(node):
    value = (node.config or {}).get("max_visits") if isinstance(node.config, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_VISITS


def _visit(e, node):
    """Count one more entry of `node`; the refusal (a message) when that passes the
    node's maximum, '' otherwise. Every entry of a node goes through here."""
    visits = dict(e.visits) if isinstance(e.visits, dict) else {}
    count = visits.get(node.key, 0) + 1
    limit = max_visits(node)
    if count > limit:
        return (f"“{node.title or node.key}” would be entered a {count}th time; a node is entered at most "
                f"{limit} times per enrollment")
    visits[node.key] = count
    e.visits = visits
    return ""


# ------------------------------------------------------------------ entering a step

def enroll(e, first, *, at, actor=None, via="manual", schedule=scheduled):
    """A new enrollment (with its id) starts on `first`."""
    e.status = EnrollmentStatus.ACTIVE
    e.version_id = first.version_id
    e.current_step = first
    e.step_pass = 1
    e.visits = {}
    _visit(e, first)
    e.waiting_on = entering(first)
    e.enrolled_at = at
    e.enrolled_via = via
    e.next_run_at, detail, data = schedule(e, first, at)
    kind = ActivityKind.AUTO_ENROLLED if via == "auto" else ActivityKind.ENROLLED
    label = f"Enrolled in {e.sequence.name}" + (" by entry rules" if via == "auto" else "")
    return [
        _row(e, kind, label, at=at, step_id=None, data={"via": via}, actor=actor),
        _row(e, ActivityKind.STEP_SCHEDULED, detail, at=at, step_id=first.id, data=data, actor=actor),
    ]


def advance(e, following, *, at, executed="", skipped="", actor=None, schedule=scheduled):
    """The current step is done (or skipped): point at `following` for a new pass, due
    after its delay, or finish when nothing follows."""
    current_id = e.current_step_id
    if skipped:
        rows = [_row(e, ActivityKind.STEP_SKIPPED, skipped, at=at, step_id=current_id, actor=actor)]
    else:
        rows = [_row(e, ActivityKind.STEP_EXECUTED, executed or "Step executed", at=at, step_id=current_id,
                     actor=actor)]
    e.last_step_at = at
    if following is None:
        rows += finish(e, at=at, detail="Finished all steps")
        return rows
    refused = _visit(e, following)
    if refused:
        return rows + fail(e, refused, at=at)
    e.current_step = following
    e.step_pass += 1
    e.waiting_on = entering(following)
    e.next_run_at, detail, data = schedule(e, following, at)
    rows.append(_row(e, ActivityKind.STEP_SCHEDULED, detail, at=at, step_id=following.id, data=data, actor=actor))
    return rows


def rearm(e, *, at, detail="", actor=None):
    """The current step's work was withdrawn (a cancelled or rejected draft): the step
    runs again in a new pass, due at `at` (for a paused enrollment: as soon as it is
    resumed). A stale job or approval of the old pass finds the pass changed and sends
    nothing. Recorded when `detail` says why (otherwise the change that caused it is)."""
    e.step_pass += 1
    e.waiting_on = WaitingOn.NOTHING
    e.next_run_at = at
    if not detail:
        return []
    return [_row(e, ActivityKind.WAITING, detail, at=at, step_id=e.current_step_id, actor=actor)]


def reschedule(e, when, *, at, detail, actor=None, data=None):
    """The current step keeps its pass but is due at another time."""
    e.next_run_at = when
    return [_row(e, ActivityKind.STEP_SCHEDULED, detail, at=at, step_id=e.current_step_id,
                 data={"next_run_at": when.isoformat(), **(data or {})}, actor=actor)]


def move(e, step, *, at, detail, actor=None, data=None):
    """A sequence edit moved the enrollment to `step` (None: nothing is left to run). It
    keeps its due time; a new pass, since it is a different step."""
    rows = [_row(e, ActivityKind.MOVED, detail, at=at, step_id=getattr(step, "id", None), data=data, actor=actor)]
    if step is None:
        e.current_step = None
        return rows + finish(e, at=at, detail="Finished: the steps it was waiting for were removed", actor=actor)
    e.current_step = step
    e.step_pass += 1
    return rows


# ------------------------------------------------------------------ holding

def wait(e, on, *, at, detail=""):
    """The step's work exists but is not finished (drafting, approval, a task)."""
    e.waiting_on = on
    e.next_run_at = None
    return [_row(e, ActivityKind.WAITING, detail or WaitingOn(on).label, at=at, step_id=e.current_step_id)]


def defer(e, when, why, *, at, gate=""):
    """A gate (named `gate`) or an error holds the step: it is due again at `when`."""
    e.next_run_at = when
    data = {"reason": why, "next_run_at": when.isoformat()}
    if gate:
        data["gate"] = gate
    return [_row(e, ActivityKind.DEFERRED, f"Deferred ({why}) to {wording.local(when, wording.zone_of(e))}", at=at,
                 step_id=e.current_step_id, data=data)]


def pause(e, reason, *, at, actor=None):
    if e.status != EnrollmentStatus.ACTIVE:
        raise Refused(f"Only an active enrollment can be paused (this one is {e.get_status_display().lower()}).")
    e.status = EnrollmentStatus.PAUSED
    e.pause_reason = reason[:64]
    _drop_lease(e)
    return [_row(e, ActivityKind.PAUSED, reason, at=at, step_id=e.current_step_id, actor=actor)]


def resume(e, *, at, actor=None):
    """Continue where the enrollment was. A step that fell due while paused is due now,
    not in a burst of every missed step: only the current step is pending."""
    if e.status != EnrollmentStatus.PAUSED:
        raise Refused(f"Only a paused enrollment can be resumed (this one is {e.get_status_display().lower()}).")
    e.status = EnrollmentStatus.ACTIVE
    e.pause_reason = ""
    if e.waiting_on == WaitingOn.NOTHING and e.current_step_id and (e.next_run_at is None or e.next_run_at < at):
        e.next_run_at = at
    elif e.waiting_on == WaitingOn.EVENT and e.current_step_id:
        # What it waits for may have happened while it was paused (a paused enrollment
        # is not woken): look now; without it, the wait goes back to its timeout.
        e.next_run_at = at
    return [_row(e, ActivityKind.RESUMED, "", at=at, step_id=e.current_step_id, actor=actor)]


# ------------------------------------------------------------------ ending

def _end(e, status, *, at):
    e.status = status
    e.next_run_at = None
    e.waiting_on = WaitingOn.NOTHING
    e.finished_at = at
    _drop_lease(e)


def exit(e, reason, *, at, actor=None):  # noqa: A001 - the state machine's own word
    """Stop for good, with why. Cancelling the step's pending work is the caller's."""
    if e.status not in OPEN:
        raise Refused("This enrollment has already finished.")
    _end(e, EnrollmentStatus.UNENROLLED, at=at)
    e.exit_reason = reason[:64]
    return [_row(e, ActivityKind.EXITED, reason, at=at, step_id=e.current_step_id, actor=actor)]


def leave(e, reason, *, at, data=None):
    """The flow itself ends the enrollment (a goal, an exit rule, an exit node, a split's
    holdout): status exited, with the reason. Cancelling pending work is the caller's."""
    if e.status not in OPEN:
        raise Refused("This enrollment has already finished.")
    _end(e, EnrollmentStatus.EXITED, at=at)
    e.exit_reason = reason[:64]
    return [_row(e, ActivityKind.EXITED, f"Exited: {reason}", at=at, step_id=e.current_step_id,
                 data={"reason": reason[:200], **(data or {})})]


def goal(e, goal, *, at, because, actor=None):
    """The enrollment reached one of its sequence's goals (`because`: the fact or state
    that shows it). The goal's action (exit, or move to another sequence) is the caller's."""
    name = goal.get("name") or goal.get("key", "")
    return [_row(e, ActivityKind.GOAL, f"Reached goal “{name}” because {because}", at=at,
                 step_id=e.current_step_id, actor=actor,
                 data={"goal": goal.get("key", ""), "name": name, "action": goal.get("action", "exit")})]


def retry(e, *, at, actor=None):
    """A failed enrollment runs its node again: active, in a new pass, due now."""
    if e.status != EnrollmentStatus.FAILED:
        raise Refused(f"Only a failed enrollment can be retried (this one is {e.get_status_display().lower()}).")
    if e.current_step_id is None:
        raise Refused("The step this enrollment failed on no longer exists.")
    error = e.exit_reason
    e.status = EnrollmentStatus.ACTIVE
    e.exit_reason = ""
    e.finished_at = None
    e.step_pass += 1
    e.waiting_on = WaitingOn.NOTHING
    e.next_run_at = at
    _drop_lease(e)
    return [_row(e, ActivityKind.RESUMED, "Retried after the failure" + (f" ({error})" if error else ""), at=at,
                 step_id=e.current_step_id, actor=actor, data={"retry": True, "error": error})]


def path(e, label, *, at, because, data=None):
    """Record the way the enrollment took out of its current node (a branch's rule, a
    split's arm, a task's outcome, a wait's event or timeout) and why."""
    node = e.current_step
    return [_row(e, ActivityKind.PATH, f"Took path “{label}” because {because}", at=at, step_id=e.current_step_id,
                 data={"node": getattr(node, "key", ""), "label": label, **(data or {})})]


def acted(e, detail, *, at, data=None):
    """An action node did something for the enrollment (tagged the contact, moved it …),
    or could not (`data` says which, and why)."""
    return [_row(e, ActivityKind.ACTION, detail, at=at, step_id=e.current_step_id, data=data)]


def finish(e, *, at, detail, actor=None):
    step_id = e.current_step_id
    _end(e, EnrollmentStatus.COMPLETED, at=at)
    return [_row(e, ActivityKind.COMPLETED, detail, at=at, step_id=step_id, actor=actor)]


def fail(e, error, *, at):
    """The step cannot run (an error that retrying will not mend): stop, and show why."""
    step_id = e.current_step_id
    _end(e, EnrollmentStatus.FAILED, at=at)
    e.exit_reason = error[:64]
    return [_row(e, ActivityKind.FAILED, f"Failed: {error}", at=at, step_id=step_id, data={"error": error[:500]})]
