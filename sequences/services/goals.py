"""Sequence goals (seed 001's "Booked meeting"): setting them, and reaching them.

A goal is checked when the fact that reaches it is recorded (a reaction to the contact
fact, services.reactions) and again by the processor before each node (engine.execute),
both through `goals_apply`. Reaching a goal writes one GoalReached row per enrollment
and goal (the conversion figures count them), an activity row, and does the goal's
action: the enrollment exits with "goal: <name>", and with "move" it is then enrolled in
the goal's target sequence through `enrollment_create`, with every rule that applies to
an enrollment (a refusal is recorded on the old enrollment, never skipped silently).
"""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import LeadStatus

from ..flow import rules, store, transitions
from ..models import ActivityKind, Enrollment, GoalReached, Sequence, SequenceVersion, new_node_key
from .versions import version_policy_set

MAX_GOALS = 20


def _clean_goal(goal, *, tenant, sequence):
    if not isinstance(goal, dict):
        raise ValidationError("A goal is an object with a name, a condition and an action.")
    name = str(goal.get("name") or "").strip()[:200]
    if not name:
        raise ValidationError("Give every goal a name.")
    condition = goal.get("condition") if isinstance(goal.get("condition"), dict) else {}
    kind = condition.get("kind")
    if kind not in rules.GOAL_KINDS:
        raise ValidationError(f"Goal “{name}”: choose what reaches it (a booked meeting, a lead status, "
                              "a custom event or a clicked link).")
    if kind == "lead_status":
        statuses = condition.get("in") if isinstance(condition.get("in"), list) else []
        if not statuses or any(status not in LeadStatus.values for status in statuses):
            raise ValidationError(f"Goal “{name}”: choose the lead statuses that reach it.")
        condition = {"kind": kind, "in": statuses}
    elif kind == "custom_event":
        event = str(condition.get("name") or "").strip()[:100]
        if not event:
            raise ValidationError(f"Goal “{name}”: name the custom event that reaches it.")
        condition = {"kind": kind, "name": event}
    elif kind == "clicked":
        condition = {"kind": kind, "link_contains": str(condition.get("link_contains") or "").strip()[:500]}
    else:
        condition = {"kind": kind}
    action = goal.get("action") or "exit"
    if action not in rules.GOAL_ACTIONS:
        raise ValidationError(f"Goal “{name}”: the action is exit or move to another sequence.")
    cleaned = {"key": str(goal.get("key") or new_node_key("goal"))[:64], "name": name, "condition": condition,
               "action": action}
    if action == "move":
        target = Sequence.objects.filter(tenant=tenant, pk=_int(goal.get("sequence"))).exclude(pk=sequence.pk).first()
        if target is None:
            raise ValidationError(f"Goal “{name}”: that sequence does not exist.")
        cleaned["sequence"] = target.pk
    return cleaned


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@transaction.atomic
def goals_set(*, tenant, sequence, goals, actor):
    """Replace the goals of the sequence's current version (validated; a move goal's
    target must be another sequence of the same tenant), and of its draft if it has one:
    like the sequence's other settings a goal applies at once to everyone on the published
    version, and a later publish of the draft must not bring the old goals back. Returns
    the version."""
    if sequence.tenant_id != tenant.pk:
        raise ValidationError("That sequence does not exist.")
    if not isinstance(goals, list) or len(goals) > MAX_GOALS:
        raise ValidationError(f"A sequence has a list of at most {MAX_GOALS} goals.")
    cleaned = [_clean_goal(goal, tenant=tenant, sequence=sequence) for goal in goals]
    if len({goal["key"] for goal in cleaned}) != len(cleaned):
        raise ValidationError("Two goals have the same key.")
    return version_policy_set(tenant=tenant, sequence=sequence, actor=actor, field="goals", value=cleaned)


# ---------------------------------------------------------------- reaching goals

def goals_of(version_ids):
    """version id -> its goals, for the versions that have any (one query)."""
    return {
        pk: goals for pk, goals in SequenceVersion.objects.filter(pk__in=[v for v in version_ids if v])
        .exclude(goals=[]).values_list("pk", "goals")
    }


def goals_apply(reached, *, at, actor=None):
    """Reach each (enrollment, goal, because) of `reached` (locked, open): the activity
    rows and the exit, applied in memory. Returns (activities, finish) — the caller
    writes the enrollments and activities, cancels their pending work, then calls
    `finish()` to record the GoalReached rows and make the moves."""
    activities, rows, moves = [], [], []
    for e, goal, because in reached:
        activities += transitions.goal(e, goal, at=at, because=because, actor=actor)
        activities += transitions.leave(e, f"goal: {goal.get('name') or goal['key']}", at=at,
                                        data={"goal": goal["key"]})
        rows.append(GoalReached(tenant_id=e.tenant_id, sequence_id=e.sequence_id, version_id=rules.version_of(e),
                                enrollment_id=e.pk, contact_id=e.contact_id, goal_key=goal["key"][:64],
                                goal_name=(goal.get("name") or "")[:200], reached_at=at))
        if goal.get("action") == "move":
            moves.append((e, goal))

    def finish():
        GoalReached.objects.bulk_create(rows, ignore_conflicts=True)
        notes = [_move(e, goal, at=at, actor=actor) for e, goal in moves]
        store.activities_write(notes)

    return activities, finish


def _move(e, goal, *, at, actor):
    """Enroll the contact of `e` (which just exited) in the goal's target sequence; the
    activity row on `e` says where it went, or why it could not."""
    from .enrollments import enrollment_create

    target = Sequence.objects.filter(tenant_id=e.tenant_id, pk=goal.get("sequence")).first()
    if target is None:
        detail, data = "Not moved: the goal's sequence no longer exists", {"goal": goal["key"]}
    else:
        try:
            moved = enrollment_create(tenant=e.sequence.tenant, sequence=target, contact=e.contact, actor=actor,
                                      via="goal", at=at, allow_active_elsewhere=True)
        except ValidationError as refused:
            detail = f"Not moved to “{target.name}”: {' '.join(refused.messages)}"
            data = {"goal": goal["key"], "sequence": target.pk}
        else:
            detail = f"Moved to “{target.name}”"
            data = {"goal": goal["key"], "sequence": target.pk, "enrollment": moved.pk}
    return store.activity_row(enrollment=e, kind=ActivityKind.GOAL, detail=detail, step_id=e.current_step_id,
                              data=data, actor_id=getattr(actor, "pk", None), at=at)


FACT_WORDING = {
    "meeting_booked": lambda data: "a meeting was booked",
    "status_changed": lambda data: f"the lead status became {data.get('to')}",
    "clicked": lambda data: f"the contact clicked {str(data.get('url', ''))[:120]}",
    "custom": lambda data: f"the event “{str(data.get('name', ''))[:80]}” was recorded",
}


@transaction.atomic
def goals_on_fact(*, tenant, contact_ids, kind, data, at=None, actor=None):
    """A fact of `kind` was recorded for these contacts: reach the goals it meets in their
    open enrollments, at once. Returns the number of enrollments that reached one."""
    from .reactions import pending_work_cancel

    at = at or timezone.now()
    contact_ids = list(contact_ids)
    # Most sequences have no goals: find out without locking anything (every click and
    # meeting asks).
    open_rows = Enrollment.objects.filter(tenant=tenant, contact_id__in=contact_ids, status__in=transitions.OPEN)
    goals = goals_of({version or current for version, current in
                      open_rows.values_list("version_id", "sequence__current_version_id")})
    if not goals:
        return 0
    rows = store.locked_many(tenant=tenant, status=transitions.OPEN, contact_id__in=contact_ids)
    because = FACT_WORDING[kind](data)
    reached = []
    for e in rows:
        goal = next((g for g in goals.get(rules.version_of(e), ()) if rules.goal_matches(g, kind=kind, data=data)), None)
        if goal is not None:
            reached.append((e, goal, because))
    if not reached:
        return 0
    activities, finish = goals_apply(reached, at=at, actor=actor)
    ended = [e for e, _, _ in reached]
    store.save_batch(ended, activities, at=at)
    pending_work_cancel(tenant=tenant, enrollment_ids=[e.pk for e in ended], reason="goal reached", at=at,
                        skip_tasks=True)
    finish()
    return len(ended)


def goals_on_custom_event(*, tenant, contact_ids, name, at=None, actor=None, data=None):
    """A custom event `name` was recorded for these contacts (the custom-event recording
    calls this): reach the custom-event goals it meets."""
    return goals_on_fact(tenant=tenant, contact_ids=contact_ids, kind="custom", data={**(data or {}), "name": name},
                         at=at, actor=actor)
