"""Creating sequences, their settings and their status (draft → active ⇄ paused →
archived). Every edit bumps Sequence.version and writes an audit row."""
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.policy import attach_refusal
from scendcore.tenancy import role_of

from .. import templates_catalog
from .versions import first_version_create
from .editing import audit, lock, lock_editable, touch
from ..flow import store, transitions
from ..models import (
    Channel,
    EnrollmentStatus,
    ReenrollPolicy,
    Sequence,
    SequenceStatus,
    Step,
    StepKind,
    step_kind_for,
)

OPEN = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
ARCHIVED_REASON = "sequence archived"
SETTINGS_FIELDS = (
    "name", "description", "stop_on_reply", "stop_on_meeting", "sender_profile", "mailbox_pool",
    "agent", "is_default", "reenroll_policy", "reenroll_after_days", "rejection_policy",
    "approval_expiry_hours", "test_mode",
)
# A copy starts as a real draft: test mode is a choice made for one sequence's trial run.
COPIED_FIELDS = tuple(f for f in SETTINGS_FIELDS if f not in ("name", "is_default", "test_mode")) + (
    "entry_rules",
)


def _unique_name(tenant, name):
    # Case-insensitive, like the unique_sequence_name_per_tenant constraint.
    taken = {n.lower() for n in Sequence.objects.filter(tenant=tenant, name__istartswith=name)
             .values_list("name", flat=True)}
    if name.lower() not in taken:
        return name
    n = 2
    while f"{name} ({n})".lower() in taken:
        n += 1
    return f"{name} ({n})"


def _name_taken(*, tenant, name, sequence=None):
    """The message for a name another sequence of the workspace has (any case), else ""."""
    others = Sequence.objects.filter(tenant=tenant, name__iexact=name)
    if sequence is not None:
        others = others.exclude(pk=sequence.pk)
    return f"There is already a sequence named “{name}”. Choose another name." if others.exists() else ""


@transaction.atomic
def sequence_create(*, tenant, actor, name, description=""):
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the sequence a name."})
    name = name[:200]
    if taken := _name_taken(tenant=tenant, name=name):
        raise ValidationError({"name": taken})
    try:
        with transaction.atomic():
            sequence = Sequence.objects.create(
                tenant=tenant, name=name, description=description or "", owner=actor,
                created_by=actor, updated_by=actor,
            )
            first_version_create(sequence=sequence, actor=actor)
    except IntegrityError:
        # Someone created the same name a moment ago; the constraint decided.
        raise ValidationError({"name": _name_taken(tenant=tenant, name=name)}) from None
    audit(tenant=tenant, actor=actor, sequence=sequence, action="created", changes={"name": sequence.name})
    return sequence


def agent_refusal(*, tenant, actor, agent):
    """Why `actor` may not attach `agent` (the workspace's rep policy); "" when they may."""
    if agent is None:
        return ""
    return attach_refusal(tenant=tenant, role=role_of(tenant=tenant, user_id=getattr(actor, "pk", None)), agent=agent)


@transaction.atomic
def sequence_create_from_template(*, tenant, key, actor, name=None, agent=None, sender_profile=None):
    template = templates_catalog.get(key)
    if template is None:
        raise ValidationError("There is no such template.")
    refusal = agent_refusal(tenant=tenant, actor=actor, agent=agent)
    if refusal:
        raise ValidationError({"agent": refusal})
    sequence = Sequence.objects.create(
        tenant=tenant, name=_unique_name(tenant, (name or template.name).strip()[:190]),
        description=f"{template.summary} {template.best_for}", owner=actor, created_by=actor,
        updated_by=actor, agent=agent, sender_profile=sender_profile,
    )
    first_version_create(sequence=sequence, actor=actor)
    if template.is_flow:
        from .definitions import template_document
        from .versions import definition_save

        document = template_document(tenant=tenant, template=template, actor=actor)
        definition_save(tenant=tenant, sequence=sequence, actor=actor, document=document)
        audit(tenant=tenant, actor=actor, sequence=sequence, action="created_from_template",
              changes={"template": key, "nodes": len(document["nodes"])})
        return sequence
    Step.objects.bulk_create(
        Step(
            tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key=f"step-{order}", order=order, kind=step_kind_for(t.channel), job_type=t.job_type,
            channel=t.channel,
            delay_value=t.delay_value, delay_unit=t.delay_unit, business_days_only=t.business_days_only,
            angle=t.angle, cta=t.cta, value_proposition=t.value_proposition,
            subject_template=t.subject_template,
        )
        for order, t in enumerate(template.steps, start=1)
    )
    audit(tenant=tenant, actor=actor, sequence=sequence, action="created_from_template",
          changes={"template": key, "steps": len(template.steps)})
    return sequence


def _display(value):
    if hasattr(value, "pk"):
        return f"{value} (#{value.pk})"
    return value


@transaction.atomic
def sequence_update_settings(*, tenant, sequence, actor, values):
    sequence = lock_editable(tenant=tenant, sequence=sequence)
    errors = {}
    for name in ("sender_profile", "mailbox_pool", "agent"):
        obj = values.get(name)
        if obj is not None and obj.tenant_id != tenant.pk:
            errors[name] = "Choose one of this workspace's own."
    if "agent" not in errors and values.get("agent") is not None and values["agent"].pk != sequence.agent_id:
        # Only a change is checked: a rep saving other settings keeps what a manager attached.
        refusal = agent_refusal(tenant=tenant, actor=actor, agent=values["agent"])
        if refusal:
            errors["agent"] = refusal
    if not (values.get("name", sequence.name) or "").strip():
        errors["name"] = "Give the sequence a name."
    elif "name" in values and (taken := _name_taken(tenant=tenant, name=values["name"].strip(), sequence=sequence)):
        errors["name"] = taken
    if values.get("reenroll_policy", sequence.reenroll_policy) == ReenrollPolicy.AFTER_DAYS and not (
        values.get("reenroll_after_days", sequence.reenroll_after_days)
    ):
        errors["reenroll_after_days"] = "Enter after how many days a contact may be enrolled again."
    if errors:
        raise ValidationError(errors)
    changes = {}
    for name in SETTINGS_FIELDS:
        if name in values and getattr(sequence, name) != values[name]:
            changes[name] = [_display(getattr(sequence, name)), _display(values[name])]
            setattr(sequence, name, values[name])
    if not changes:
        return sequence
    sequence.updated_by = actor
    try:
        with transaction.atomic():
            sequence.save()
    except IntegrityError:
        # Either unique constraint can lose a race: the name one, or the one default.
        if taken := _name_taken(tenant=tenant, name=sequence.name, sequence=sequence):
            raise ValidationError({"name": taken}) from None
        other = Sequence.objects.filter(tenant=tenant, is_default=True).exclude(pk=sequence.pk).first()
        named = f"“{other.name}”" if other else "Another sequence"
        raise ValidationError({
            "is_default": f"{named} is already the default sequence. Untick it there first; "
                          "a workspace has one default."
        }) from None
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="settings_changed",
          changes={k: [str(v) if v is not None else None for v in pair] for k, pair in changes.items()})
    return sequence


# ---------------------------------------------------------------- status

def activation_problems(sequence, steps=None, *, tenant=None):
    """Why the sequence cannot run, as sentences; [] when it may be activated. The flow is
    checked as a publish checks it (every node type's rules, paths, loops), since
    activating a sequence edited in place is what publishes it."""
    from ..engine.validation import FLOW, flow_problems

    steps = list(steps) if steps is not None else list(sequence.current_nodes().order_by("order"))
    problems = []
    if not steps:
        problems.append("Add at least one step.")
    email_steps = [s for s in steps if s.kind == StepKind.MESSAGE and s.channel == Channel.EMAIL]
    if email_steps and not (sequence.sender_profile_id or sequence.mailbox_pool_id):
        problems.append(
            f"Choose a sender profile or mailbox pool: {len(email_steps)} step"
            f"{'s send' if len(email_steps) != 1 else ' sends'} email."
        )
    if not sequence.agent_id:
        problems.append("Choose the agent that drafts the messages.")
    elif sequence.agent is not None and not sequence.agent.is_active:
        problems.append(f"The agent “{sequence.agent.name}” is switched off; choose an active one.")
    if steps:
        by_key = {step.key: step for step in steps}
        for key, fields in flow_problems(steps, tenant=tenant or sequence.tenant).items():
            label = "The flow" if key == FLOW else f"Step {by_key[key].order}"
            for messages in fields.values():
                problems += [f"{label}: {message}" for message in messages]
    return problems


def _transition(*, tenant, sequence, actor, allowed_from, to, action):
    sequence = lock(tenant=tenant, sequence=sequence)
    if sequence.status not in allowed_from:
        raise ValidationError(
            f"A {sequence.get_status_display().lower()} sequence can't be {action}."
        )
    before = sequence.status
    sequence.status = to
    sequence.updated_by = actor
    sequence.save(update_fields=["status", "updated_by", "updated_at"])
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action=action, changes={"status": [before, to]})
    return sequence


def _refuse_if_problems(sequence):
    problems = activation_problems(sequence)
    if problems:
        raise ValidationError(problems)


@transaction.atomic
def sequence_activate(*, tenant, sequence, actor):
    sequence = lock(tenant=tenant, sequence=sequence)
    if sequence.status == SequenceStatus.DRAFT:
        _refuse_if_problems(sequence)
    return _transition(tenant=tenant, sequence=sequence, actor=actor, action="activated",
                       allowed_from=(SequenceStatus.DRAFT,), to=SequenceStatus.ACTIVE)


@transaction.atomic
def sequence_pause(*, tenant, sequence, actor):
    """The processor only runs enrollments of active sequences: pausing the sequence
    holds all of them where they are, without touching each row."""
    return _transition(tenant=tenant, sequence=sequence, actor=actor, action="paused",
                       allowed_from=(SequenceStatus.ACTIVE,), to=SequenceStatus.PAUSED)


@transaction.atomic
def sequence_resume(*, tenant, sequence, actor, send_overdue_now=False):
    """Steps that fell due while paused are spread out from now (respecting each
    contact's send window) rather than fired in one burst, unless the user asks."""
    from ..engine.control import sequence_resume_schedule

    sequence = lock(tenant=tenant, sequence=sequence)
    if sequence.status == SequenceStatus.PAUSED:
        _refuse_if_problems(sequence)
    sequence = _transition(tenant=tenant, sequence=sequence, actor=actor, action="resumed",
                           allowed_from=(SequenceStatus.PAUSED,), to=SequenceStatus.ACTIVE)
    sequence_resume_schedule(tenant=tenant, sequence=sequence, actor=actor, send_overdue_now=send_overdue_now)
    return sequence


@transaction.atomic
def sequence_archive(*, tenant, sequence, actor, now=None):
    """Terminal. Open enrollments end with reason "sequence archived", and their unsent
    drafts, pending approvals and open tasks are cancelled. Returns the number ended."""
    from .reactions import pending_work_cancel

    now = now or timezone.now()
    sequence = lock(tenant=tenant, sequence=sequence)
    if sequence.status == SequenceStatus.ARCHIVED:
        raise ValidationError("This sequence is already archived.")
    open_rows = store.locked_many(tenant=tenant, status=OPEN, sequence=sequence)
    activities = []
    for row in open_rows:
        activities += transitions.exit(row, ARCHIVED_REASON, at=now, actor=actor)
    store.save_batch(open_rows, activities, at=now)
    ids = [row.pk for row in open_rows]
    if ids:
        pending_work_cancel(tenant=tenant, enrollment_ids=ids, reason=ARCHIVED_REASON, at=now, skip_tasks=True)
    before = sequence.status
    sequence.status = SequenceStatus.ARCHIVED
    sequence.archived_at = now
    sequence.is_default = False
    sequence.auto_enroll_enabled = False
    sequence.updated_by = actor
    sequence.save(update_fields=["status", "archived_at", "is_default", "auto_enroll_enabled",
                                 "updated_by", "updated_at"])
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="archived",
          changes={"status": [before, SequenceStatus.ARCHIVED], "enrollments_ended": len(ids)})
    return len(ids)


@transaction.atomic
def sequence_duplicate(*, tenant, sequence, actor):
    """A draft copy with the same settings and steps (never the default, no auto-enroll),
    owned by `actor`. An agent the actor may not attach is left out of the copy."""
    source = Sequence.objects.select_related("agent").get(pk=sequence.pk, tenant=tenant)
    copied = {name: getattr(source, name) for name in COPIED_FIELDS}
    dropped = source.agent if agent_refusal(tenant=tenant, actor=actor, agent=source.agent) else None
    if dropped is not None:
        copied["agent"] = None
    copy = Sequence.objects.create(
        tenant=tenant, name=_unique_name(tenant, f"Copy of {source.name}"[:190]), owner=actor,
        created_by=actor, updated_by=actor, **copied,
    )
    first_version_create(sequence=copy, actor=actor)
    steps = list(source.current_nodes().order_by("order"))
    for step in steps:
        # Same keys: the copy's version 1 is the source's published version.
        step.pk = None
        step.id = None
        step.sequence = copy
        step.version_id = copy.current_version_id
        step._state.adding = True
    Step.objects.bulk_create(steps)
    changes = {"from_sequence": source.pk, "steps": len(steps)}
    if dropped is not None:
        changes["agent_not_copied"] = dropped.pk
    audit(tenant=tenant, actor=actor, sequence=copy, action="duplicated", changes=changes)
    return copy
