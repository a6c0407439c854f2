"""Adding, editing, deleting and reordering the steps of a sequence.

Every edit goes to the version being edited (versions.editing_version): the published
version itself while no enrollment is pinned to it, else a draft, which reaches
enrollments only through a publish (versions.version_publish). A step is found in
that version by its key, which a draft keeps, so a page showing the published
version's steps edits the draft's copy of the same step.

Orders stay 1..N without gaps. An in-place edit is safe even if an enrollment entered
meanwhile: an enrollment never receives a step again that it already went through.
After a delete or a move, every open enrollment of the edited version continues with
the step that now follows the last step it executed (its "done" steps are the ones
before its current step in the old order); it keeps its scheduled time, and completes
when nothing follows. Enrollments whose current step is in progress (drafting,
approval, task, or claimed by the processor) cannot be re-pointed safely, so a change
that would need to is refused. The same rule suggests where a publish moves the
enrollments of a removed node (`next_kept`).
"""
from dataclasses import dataclass, field
from datetime import time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from .. import merge_fields
from ..flow import store, transitions
from ..flow.rewire import paths_without
from ..models import (
    Channel,
    DelayUnit,
    Enrollment,
    EnrollmentStatus,
    JobType,
    Step,
    WaitingOn,
    new_node_key,
    step_kind_for,
)
from .editing import audit, lock_editable, touch
from .versions import draft_of, editing_version

OPEN = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
MESSAGE_JOB_TYPES = (JobType.INITIAL_OUTREACH, JobType.FOLLOW_UP, JobType.RE_ENGAGEMENT)
CHANNEL_JOB_TYPE = {Channel.TASK: JobType.TASK, Channel.CALL_REMINDER: JobType.CALL_REMINDER}
MAX_DELAY = {DelayUnit.MINUTES: 60 * 24 * 365, DelayUnit.HOURS: 24 * 365, DelayUnit.DAYS: 365}
MAX_JITTER = 12 * 60
# A template is a message or a rep's instructions, not a document: a longer one is a
# paste by mistake, and the builder would never show it whole.
MAX_BODY_TEMPLATE = 10_000
WEEKEND = {5, 6}

EDITABLE_FIELDS = (
    "channel", "job_type", "delay_value", "delay_unit", "business_days_only", "window_days",
    "window_start", "window_end", "jitter_minutes", "angle", "cta", "value_proposition",
    "subject_template", "body_template", "requires_human_approval",
)
DEFAULTS = {
    "channel": Channel.EMAIL, "job_type": JobType.FOLLOW_UP, "delay_value": 3,
    "delay_unit": DelayUnit.DAYS, "business_days_only": False, "window_days": None,
    "window_start": None, "window_end": None, "jitter_minutes": 0, "angle": "", "cta": "",
    "value_proposition": "", "subject_template": "", "body_template": "",
    "requires_human_approval": False,
}
# The first step is the first touch, right at enrollment; later ones follow it up.
FIRST_STEP_DEFAULTS = {**DEFAULTS, "job_type": JobType.INITIAL_OUTREACH, "delay_value": 0}


def defaults_for(*, is_first):
    return FIRST_STEP_DEFAULTS if is_first else DEFAULTS


# ---------------------------------------------------------------- rules

def step_errors(values, *, is_first):
    """{field: [message]} for a step's settings; empty when valid. Shared by the step
    form, the services and the activation check, so all three agree."""
    errors = {}

    def add(name, message):
        errors.setdefault(name, []).append(message)

    channel, job_type = values.get("channel"), values.get("job_type")
    delay, unit = values.get("delay_value"), values.get("delay_unit") or DelayUnit.DAYS
    if delay is None:
        add("delay_value", "Enter a delay.")
    elif delay < 0:
        add("delay_value", "The delay can't be negative.")
    elif delay > MAX_DELAY.get(unit, 0):
        add("delay_value", f"That is more than a year; the most is {MAX_DELAY.get(unit)} {unit}.")

    if channel in CHANNEL_JOB_TYPE and job_type != CHANNEL_JOB_TYPE[channel]:
        add("job_type", f"A {Channel(channel).label.lower()} step has the job type "
                        f"{JobType(CHANNEL_JOB_TYPE[channel]).label}.")
    elif channel in (Channel.EMAIL, Channel.SMS) and job_type not in MESSAGE_JOB_TYPES:
        add("job_type", "Email and SMS steps are initial outreach, follow-up or re-engagement.")

    days, start, end = values.get("window_days"), values.get("window_start"), values.get("window_end")
    if days is not None or start is not None or end is not None:
        if not days:
            add("window_days", "Pick at least one day for the send window.")
        elif values.get("business_days_only") and set(days) <= WEEKEND:
            add("window_days", "This window only has weekend days, but the step sends on weekdays only.")
        if start is None:
            add("window_start", "Enter the time the window opens.")
        if end is None:
            add("window_end", "Enter the time the window closes.")
        if start is not None and end is not None and end <= start:
            add("window_end", "The window must end after it starts.")

    jitter = values.get("jitter_minutes") or 0
    if jitter < 0 or jitter > MAX_JITTER:
        add("jitter_minutes", f"Jitter is between 0 and {MAX_JITTER} minutes.")

    if channel == Channel.SMS and values.get("subject_template"):
        add("subject_template", "SMS messages have no subject; leave it empty.")
    body = values.get("body_template") or ""
    if len(body) > MAX_BODY_TEMPLATE:
        add("body_template", f"The body template is at most {MAX_BODY_TEMPLATE:,} characters "
                             f"(this one has {len(body):,}).")
    for name in ("subject_template", "body_template"):
        for problem in merge_fields.validate_template(values.get(name) or ""):
            add(name, problem)
    return errors


def _check(values, *, is_first):
    errors = step_errors(values, is_first=is_first)
    if errors:
        raise ValidationError(errors)


def normalized(values):
    values = {**values}
    if values.get("channel") in CHANNEL_JOB_TYPE:
        values["job_type"] = CHANNEL_JOB_TYPE[values["channel"]]
    if values.get("window_days") is not None:
        values["window_days"] = sorted({int(day) for day in values["window_days"]})
    return values


def step_values(step):
    return {name: getattr(step, name) for name in EDITABLE_FIELDS}


def _jsonable(value):
    return value.strftime("%H:%M") if isinstance(value, time) else value


# ---------------------------------------------------------------- planning

@dataclass
class Repoint:
    from_step: Step
    to_step: Step | None  # None: nothing follows, the enrollments complete
    count: int
    to_position: int | None = None  # the target's order once the change is saved


@dataclass
class Plan:
    repoints: list = field(default_factory=list)
    blocked: list = field(default_factory=list)  # [(step, count)] with work in progress
    # The change goes to a draft: these open enrollments keep their path until a publish.
    in_flight: int = 0

    @property
    def affected(self):
        return sum(r.count for r in self.repoints)


def _busy_q(now):
    return ~Q(waiting_on=WaitingOn.NOTHING) | Q(lease_expires_at__gt=now)


def _open_groups(version, now):
    """{step_id: (idle, busy)} counts of open enrollments per current step of `version`
    (none for a draft: nobody is pinned to one)."""
    rows = (
        Enrollment.objects.filter(sequence_id=version.sequence_id, version=version, status__in=OPEN,
                                  current_step__isnull=False)
        .values("current_step_id")
        .annotate(busy=Count("id", filter=_busy_q(now)), total=Count("id"))
    )
    return {r["current_step_id"]: (r["total"] - r["busy"], r["busy"]) for r in rows}


def next_kept(old_steps, step, kept_keys):
    """The first step after `step` in the old outline whose key is kept, or None: where
    an enrollment waiting on a removed step continues, having done the ones before it."""
    return next((s for s in old_steps[old_steps.index(step) + 1:] if s.key in kept_keys), None)


def plan_change(*, old_steps, new_steps, groups):
    """Where each group of open enrollments goes when the step list changes from
    `old_steps` to `new_steps` (a delete or a reorder)."""
    old_index = {s.pk: i for i, s in enumerate(old_steps)}
    new_index = {s.pk: i for i, s in enumerate(new_steps)}
    plan = Plan()
    for step in old_steps:
        idle, busy = groups.get(step.pk, (0, 0))
        if not idle and not busy:
            continue
        done = [s.pk for s in old_steps[: old_index[step.pk]] if s.pk in new_index]
        last = max((new_index[pk] for pk in done), default=-1)
        if idle:
            target = new_steps[last + 1] if last + 1 < len(new_steps) else None
            if target is None or target.pk != step.pk:
                plan.repoints.append(Repoint(from_step=step, to_step=target, count=idle,
                                             to_position=last + 2 if target else None))
        if busy and (step.pk not in new_index or new_index[step.pk] < last):
            plan.blocked.append((step, busy))
    return plan


def _blocked_error(plan):
    parts = [f"{n} enrollment{'s' if n != 1 else ''} on step {s.order}" for s, n in plan.blocked]
    return ValidationError(
        "Not saved: " + ", ".join(parts) + " have this step's work in progress (drafting, waiting "
        "for approval, an open task or being sent right now). Moving them could send a step twice. "
        "Try again once that work is done."
    )


def _apply(*, tenant, sequence, plan, actor, reason, now):
    """Re-point enrollments set-based, keeping their due time; one activity row each."""
    moved, activities = [], []
    for repoint in plan.repoints:
        # Locking re-reads each row, so one that the processor just moved on is left alone.
        rows = [
            e for e in store.locked_many(tenant=tenant, status=OPEN, sequence=sequence,
                                         current_step=repoint.from_step)
            if not (e.waiting_on or (e.lease_expires_at and e.lease_expires_at > now))
        ]
        target = repoint.to_step
        if target is None:
            detail = f"{reason}; no steps left after the ones already done"
        else:
            detail = f"{reason}; continues with step {repoint.to_position} ({target.get_job_type_display()})"
        data = {"from_step": repoint.from_step.pk, "to_step": getattr(target, "pk", None)}
        for e in rows:
            activities += transitions.move(e, target, at=now, detail=detail, actor=actor, data=data)
        moved += rows
    store.save_batch(moved, activities, at=now)
    return len(moved)


def _ordered_steps(version):
    return list(Step.objects.filter(version=version).order_by("order", "pk"))


def _shown_version(sequence):
    """The version the builder shows: the draft if there is one, else the published."""
    return draft_of(sequence) or sequence.current_version


def _locked_with_steps(*, tenant, step, actor):
    """The step's sequence locked for editing, the version an edit changes, its steps in
    order, and the step as it is there (by key: it may be the draft's copy, or have been
    deleted meanwhile)."""
    sequence = lock_editable(tenant=tenant, sequence=step.sequence)
    version = editing_version(sequence=sequence, actor=actor)
    steps = _ordered_steps(version)
    current = next((s for s in steps if s.key == step.key), None)
    if current is None:
        raise ValidationError("This step no longer exists.")
    return sequence, version, steps, current


def _reordered(steps, step, position):
    rest = [s for s in steps if s.pk != step.pk]
    position = max(1, min(position, len(steps)))
    rest.insert(position - 1, next(s for s in steps if s.pk == step.pk))
    return rest


def _preview(sequence, step, change, now):
    """The plan of `change` (steps -> new steps). An edit that goes to a draft moves
    nobody (the publish says who moves): its plan only counts who is in flight."""
    draft = draft_of(sequence)
    pinned = Enrollment.objects.filter(sequence=sequence, version_id=sequence.current_version_id)
    if draft is not None or pinned.exists():
        return Plan(in_flight=Enrollment.objects.filter(sequence=sequence, status__in=OPEN).count())
    steps = _ordered_steps(sequence.current_version)
    step = next((s for s in steps if s.key == step.key), None)
    if step is None:
        return Plan()
    return plan_change(old_steps=steps, new_steps=change(steps, step),
                       groups=_open_groups(sequence.current_version, now or timezone.now()))


def delete_preview(*, tenant, sequence, step, now=None):
    return _preview(sequence, step, lambda steps, step: [s for s in steps if s.pk != step.pk], now)


def move_preview(*, tenant, sequence, step, position, now=None):
    return _preview(sequence, step, lambda steps, step: _reordered(steps, step, position), now)


# ---------------------------------------------------------------- writes

@transaction.atomic
def step_add(*, tenant, sequence, actor, values):
    sequence = lock_editable(tenant=tenant, sequence=sequence)
    version = editing_version(sequence=sequence, actor=actor)
    count = Step.objects.filter(version=version).count()
    values = normalized({**defaults_for(is_first=count == 0), **values})
    _check(values, is_first=count == 0)
    kind = step_kind_for(values["channel"])
    step = Step.objects.create(
        tenant=tenant, sequence=sequence, version=version, key=new_node_key(kind), order=count + 1, kind=kind,
        **{name: values[name] for name in EDITABLE_FIELDS},
    )
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="step_added",
          changes={"step": step.pk, "order": step.order, "job_type": step.job_type, "channel": step.channel})
    return step


@transaction.atomic
def step_update(*, tenant, step, actor, values):
    """Changes apply to what is still to come: enrollments already scheduled for this
    step keep their time."""
    sequence, _version, _steps, step = _locked_with_steps(tenant=tenant, step=step, actor=actor)
    before = step_values(step)
    values = normalized({**before, **values})
    _check(values, is_first=step.order == 1)
    changes = {
        name: [_jsonable(before[name]), _jsonable(values[name])]
        for name in EDITABLE_FIELDS if before[name] != values[name]
    }
    if not changes:
        return step
    for name in changes:
        setattr(step, name, values[name])
    step.kind = step_kind_for(step.channel)
    step.save()
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="step_updated",
          changes={"step": step.pk, "order": step.order, **changes})
    return step


@transaction.atomic
def step_delete(*, tenant, step, actor, now=None):
    """Delete a step; enrollments waiting on it continue with the next one. Returns the
    number of enrollments moved."""
    now = now or timezone.now()
    sequence, version, steps, step = _locked_with_steps(tenant=tenant, step=step, actor=actor)
    remaining = [s for s in steps if s.pk != step.pk]
    plan = plan_change(old_steps=steps, new_steps=remaining, groups=_open_groups(version, now))
    if plan.blocked:
        raise _blocked_error(plan)
    Step.objects.bulk_update(paths_without(steps, step), ["edges"])
    _renumber(remaining)
    moved = _apply(tenant=tenant, sequence=sequence, plan=plan, actor=actor, now=now,
                   reason=f"Step {step.order} was deleted")
    order, summary = step.order, f"{step.get_job_type_display()} by {step.get_channel_display()}"
    step.delete()
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="step_deleted",
          changes={"step": step.pk, "order": order, "summary": summary, "enrollments_moved": moved})
    return moved


@transaction.atomic
def step_move(*, tenant, step, position, actor, now=None):
    """Move a step to `position` (1-based). Returns the number of enrollments moved."""
    now = now or timezone.now()
    sequence, version, steps, step = _locked_with_steps(tenant=tenant, step=step, actor=actor)
    old_order = step.order
    reordered = _reordered(steps, step, position)
    if [s.pk for s in reordered] == [s.pk for s in steps]:
        return 0
    plan = plan_change(old_steps=steps, new_steps=reordered, groups=_open_groups(version, now))
    if plan.blocked:
        raise _blocked_error(plan)
    moved = _apply(tenant=tenant, sequence=sequence, plan=plan, actor=actor, now=now,
                   reason=f"Step {old_order} was moved to position {reordered.index(step) + 1}")
    _renumber(reordered)
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="step_moved",
          changes={"step": step.pk, "order": [old_order, step.order], "enrollments_moved": moved})
    return moved


def _renumber(steps):
    changed = []
    for order, step in enumerate(steps, start=1):
        if step.order != order:
            step.order = order
            changed.append(step)
    Step.objects.bulk_update(changed, ["order"])
