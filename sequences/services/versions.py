"""A sequence's versions: the first one every sequence starts with, the one an edit
changes, a whole definition written into it, and publishing a draft (with what happens
to the enrollments in flight)."""
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from ..flow.definition import NODE_COLUMNS, node_field
from ..models import EnrollmentStatus, Enrollment, Sequence, SequenceVersion, Step, VersionState, WaitingOn
from .editing import audit, lock_editable, touch

FLOW = "flow"  # the key of problems of the whole flow (engine.validation's)


def first_version_create(*, sequence, actor=None):
    """Version 1 of a new sequence, published and current (it has no nodes yet; the
    builder adds them to it until the sequence has enrollments to protect)."""
    version = SequenceVersion.objects.create(
        tenant_id=sequence.tenant_id, sequence=sequence, number=1, state=VersionState.PUBLISHED,
        published_at=sequence.created_at, created_by=actor, published_by=actor,
    )
    Sequence.objects.filter(pk=sequence.pk).update(current_version=version)
    sequence.current_version = version
    return version


def _next_number(sequence):
    return (SequenceVersion.objects.filter(sequence=sequence).aggregate(n=Max("number"))["n"] or 0) + 1


def draft_of(sequence):
    return SequenceVersion.objects.filter(sequence=sequence, state=VersionState.DRAFT).first()


def editing_version(*, sequence, actor=None):
    """The version an edit of `sequence` changes. While no enrollment was ever pinned to
    the published version, edits change it in place: nobody's path depends on it. Once
    one is, edits go to a draft (created as a copy of the published version, same keys),
    and reach enrollments only through a publish. The caller holds the sequence's lock."""
    draft = draft_of(sequence)
    if draft is not None:
        return draft
    current = sequence.current_version
    if not Enrollment.objects.filter(sequence=sequence, version=current).exists():
        return current
    return draft_create(sequence=sequence, actor=actor)


def draft_create(*, sequence, actor=None):
    """A draft that starts as a copy of the published version (nodes with their keys)."""
    current = sequence.current_version
    draft = SequenceVersion.objects.create(
        tenant_id=sequence.tenant_id, sequence=sequence, number=_next_number(sequence), state=VersionState.DRAFT,
        goals=list(current.goals or ()), exit_rules=dict(current.exit_rules or {}), created_by=actor,
    )
    nodes = list(Step.objects.filter(version=current).order_by("order", "pk"))
    for node in nodes:
        node.pk = node.id = None
        node.version = draft
        node._state.adding = True
    Step.objects.bulk_create(nodes)
    return draft


def definition_save(*, tenant, sequence, actor, document):
    """Write a whole definition document into the version being edited: nodes matched by
    key are updated, new keys created, missing ones removed; goals and exit rules replaced.
    Raises ValidationError keyed like the API's errors for a malformed document (the
    flow's sense is checked at publish). Returns the version written."""
    from ..flow.definition import read_document

    nodes, goals, exit_rules, problems = read_document(document)
    if problems:
        raise ValidationError(dict(problems))
    with transaction.atomic():
        sequence = lock_editable(tenant=tenant, sequence=sequence)
        version = editing_version(sequence=sequence, actor=actor)
        existing = {node.key: node for node in Step.objects.filter(version=version)}
        wanted = {node.key for node in nodes}
        Step.objects.filter(version=version).exclude(key__in=wanted).delete()
        kept, fresh = [], []
        for node in nodes:
            node.tenant_id, node.sequence_id, node.version = tenant.pk, sequence.pk, version
            if node.key in existing:
                node.pk = existing[node.key].pk
                kept.append(node)
            else:
                fresh.append(node)
        fields = ["kind", "title", "order", "config", "edges", *NODE_COLUMNS]
        Step.objects.bulk_update(kept, fields)
        Step.objects.bulk_create(fresh)
        SequenceVersion.objects.filter(pk=version.pk).update(goals=goals, exit_rules=exit_rules)
        version.goals, version.exit_rules = goals, exit_rules
        touch(sequence=sequence, actor=actor)
        audit(tenant=tenant, actor=actor, sequence=sequence, action="definition_saved",
              changes={"version": version.number, "nodes": len(nodes)})
    return version


# ---------------------------------------------------------------- publishing

STAY, MAP = "stay", "map"
OPEN = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


class PublishRefused(ValidationError):
    """A publish that was refused. `problems` is {node key (or "flow"): {field:
    [message]}} for the page to show on each node; the messages are also keyed like the
    API's errors ("nodes.<key>.<field>")."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__({
            (field if key == FLOW else node_field(key, field)): messages
            for key, fields in problems.items() for field, messages in fields.items()
        })


@dataclass
class MoveGroup:
    """The open enrollments of older versions waiting at one node (by key)."""

    key: str
    title: str
    count: int
    busy: int  # with work in progress: cannot be moved now
    kept: bool  # the new version has a node with this key
    suggestion: str | None = None  # for a removed node: the next kept node after it
    target: str | None = None  # where a "map" publish sends them (None: they finish)
    target_title: str = ""
    mapped: bool = False  # a target was chosen (kept nodes always are)

    @property
    def sentence(self):
        contacts = f"{self.count} contact{'s' if self.count != 1 else ''}"
        where = f"waiting at ‘{self.title or self.key}’"
        if not self.mapped:
            return f"{contacts} {where}: choose where they continue."
        if self.target is None:
            return f"{contacts} {where} finish (nothing follows for them)."
        return f"{contacts} {where} move to ‘{self.target_title or self.target}’."


@dataclass
class PublishPreview:
    draft: object
    published: object
    problems: dict
    groups: list = field(default_factory=list)

    @property
    def moving(self):
        return sum(group.count for group in self.groups if group.mapped)

    @property
    def unmapped(self):
        return [group for group in self.groups if not group.mapped]

    @property
    def busy(self):
        return [group for group in self.groups if group.busy]


# Work of the current step under way: moving such an enrollment would run the step again
# under the new node (its job, approval or task checks the step and pass). A wait for an
# event is not work: it moves like an idle row.
MID_STEP = (WaitingOn.AGENT, WaitingOn.APPROVAL, WaitingOn.TASK, WaitingOn.DELIVERY)


def _busy_q(now):
    from ..flow.transitions import PARKED

    return Q(waiting_on__in=MID_STEP) | (Q(lease_expires_at__gt=now) & ~Q(lease_owner=PARKED))


def is_busy(e, now):
    from ..flow.transitions import PARKED

    return e.waiting_on in MID_STEP or bool(
        e.lease_expires_at and e.lease_expires_at > now and e.lease_owner != PARKED)


def _outline_of_versions(version_ids):
    """{version id: its nodes in outline order}, for many versions in one query."""
    nodes = defaultdict(list)
    for step in Step.objects.filter(version_id__in=list(version_ids)).order_by("order", "pk"):
        nodes[step.version_id].append(step)
    return nodes


def publish_preview(*, tenant, sequence, node_map=None, now=None):
    """What publishing the draft of `sequence` would do: the draft's problems, and for a
    "map" publish, the groups of open enrollments of older versions per node with where
    each would go (`node_map` {old key: new key or None} for removed nodes; kept nodes go
    to themselves). Two queries for the counts and nodes, whatever the enrollment count."""
    from ..engine.validation import flow_problems
    from .steps import next_kept

    now = now or timezone.now()
    draft = draft_of(sequence)
    if draft is None or sequence.tenant_id != tenant.pk:
        raise ValidationError("There is no draft to publish.")
    node_map = dict(node_map or {})
    rows = (
        Enrollment.objects.filter(sequence=sequence, status__in=OPEN, current_step__isnull=False)
        .exclude(version=draft).values("current_step__key", "current_step__version_id")
        .annotate(total=Count("id"), busy=Count("id", filter=_busy_q(now))).order_by()
    )
    counts = defaultdict(lambda: [0, 0, set()])
    for row in rows:
        group = counts[row["current_step__key"]]
        group[0] += row["total"]
        group[1] += row["busy"]
        group[2].add(row["current_step__version_id"])
    outlines = _outline_of_versions({draft.pk} | {v for _, _, versions in counts.values() for v in versions})
    new_nodes = outlines.get(draft.pk, [])
    new_by_key = {node.key: node for node in new_nodes}
    groups = []
    for key, (total, busy, versions) in counts.items():
        old = max(versions)  # the newest of their versions names the node
        old_nodes = outlines[old]
        node = next(n for n in old_nodes if n.key == key)
        group = MoveGroup(key=key, title=node.title or _node_label(node, old_nodes), count=total, busy=busy,
                          kept=key in new_by_key)
        if group.kept:
            group.target, group.mapped = key, True
        else:
            suggestion = next_kept(old_nodes, node, set(new_by_key))
            group.suggestion = suggestion.key if suggestion else None
            if key in node_map:
                group.target, group.mapped = node_map[key] or None, True
        if group.target:
            target = new_by_key.get(group.target)
            group.target_title = (target.title or _node_label(target, new_nodes)) if target else group.target
        groups.append(group)
    groups.sort(key=lambda g: (not g.kept, -g.count, g.key))
    return PublishPreview(draft=draft, published=sequence.current_version,
                          problems=flow_problems(new_nodes, tenant=tenant), groups=groups)


def _node_label(node, nodes):
    position = nodes.index(node) + 1 if node in nodes else node.order
    return f"Step {position}"


def _map_problems(preview, new_keys):
    problems = defaultdict(lambda: defaultdict(list))
    for group in preview.groups:
        movable = group.count - group.busy  # the busy ones stay on their version
        if not group.mapped and movable:
            problems[group.key]["node_map"].append(
                f"{movable} contact{'s are' if movable != 1 else ' is'} waiting at "
                f"‘{group.title}’, which this version removes: choose where they continue.")
        elif group.target is not None and group.target not in new_keys:
            problems[group.key]["node_map"].append(f"“{group.target}” is not a node of the new version.")
    return {key: dict(fields) for key, fields in problems.items()}


def version_publish(*, tenant, sequence, actor, move=STAY, node_map=None, now=None):
    """Publish the draft of `sequence`: it becomes the version new enrollments enter, and
    the previously published one is retired. Enrollments in flight stay on their version
    ("stay"), or ("map") every open enrollment of an older version moves to the new one:
    at a kept node to the same node, at a removed node to `node_map[key]` (a new key, or
    None: it finishes). An enrollment whose step's work is in progress (drafting, an
    approval, a task, a send, a worker's claim) stays on its version, which goes on
    running it: moving it could run that step twice. Refused, with nothing changed, when
    the draft has problems or a removed node holding enrollments is not mapped. A moved
    enrollment keeps its due time, gets a new pass and a MOVED activity row. Without a
    draft (edits went into the published version, nobody being on it) nothing changes
    but the check. Returns (version, number of enrollments moved)."""
    if move not in (STAY, MAP):
        raise ValidationError({"move": ["Choose whether enrollments stay or move."]})
    if node_map and move != MAP:
        raise ValidationError({"node_map": ['A node map moves enrollments: choose to move them ("map").']})
    now = now or timezone.now()
    with transaction.atomic():
        sequence = lock_editable(tenant=tenant, sequence=sequence)
        if draft_of(sequence) is None:
            return _check_published(tenant=tenant, sequence=sequence), 0
        preview = publish_preview(tenant=tenant, sequence=sequence, node_map=node_map, now=now)
        if preview.problems:
            raise PublishRefused(preview.problems)
        draft, previous = preview.draft, sequence.current_version
        nodes = list(Step.objects.filter(version=draft))
        if move == MAP:
            problems = _map_problems(preview, {node.key for node in nodes})
            if problems:
                raise PublishRefused(problems)
        SequenceVersion.objects.filter(pk=previous.pk).update(state=VersionState.RETIRED)
        SequenceVersion.objects.filter(pk=draft.pk).update(state=VersionState.PUBLISHED, published_at=now,
                                                           published_by=actor)
        Sequence.objects.filter(pk=sequence.pk).update(current_version=draft)
        sequence.current_version = draft
        moved = _move_enrollments(tenant=tenant, sequence=sequence, draft=draft, nodes=nodes, preview=preview,
                                  actor=actor, now=now) if move == MAP else 0
        touch(sequence=sequence, actor=actor)
        audit(tenant=tenant, actor=actor, sequence=sequence, action="version_published", changes={
            "version": draft.number, "previous": previous.number, "move": move, "enrollments_moved": moved,
            "node_map": {g.key: g.target for g in preview.groups if not g.kept} if move == MAP else {},
        })
    draft.refresh_from_db()
    return draft, moved


def _check_published(*, tenant, sequence):
    from ..engine.validation import flow_problems

    current = sequence.current_version
    problems = flow_problems(list(Step.objects.filter(version=current)), tenant=tenant)
    if problems:
        raise PublishRefused(problems)
    return current


def _move_enrollments(*, tenant, sequence, draft, nodes, preview, actor, now):
    """Move every open enrollment of older versions to the new one, set-based: one locked
    read, one UPDATE and one COPY of activity rows."""
    from ..flow import store, transitions

    targets = {group.key: group.target for group in preview.groups}
    by_key = {node.key: node for node in nodes}
    rows = store.locked_many(tenant=tenant, status=OPEN, sequence=sequence, version_id__in=list(
        SequenceVersion.objects.filter(sequence=sequence).exclude(pk=draft.pk).values_list("pk", flat=True)))
    moved, activities = [], []
    for e in rows:
        if is_busy(e, now):
            continue  # stays on its version, which finishes this step's work (see version_publish)
        if e.current_step is None:
            e.version_id = draft.pk
            moved.append(e)
            continue
        key = e.current_step.key
        if key not in targets:
            # Entered its node after the preview was read (a concurrent processor step):
            # its group was checked, so fall back on the same rule.
            targets[key] = key if key in by_key else None
            if key not in by_key:
                raise PublishRefused({key: {"node_map": ["Enrollments just arrived at this node; try again."]}})
        target = by_key.get(targets[key]) if targets[key] else None
        detail = (f"Moved to version {draft.number}: continues at ‘{target.title or target.key}’" if target
                  else f"Moved to version {draft.number}: nothing follows for it")
        data = {"from_step": e.current_step_id, "to_step": getattr(target, "pk", None),
                "from_key": key, "to_key": getattr(target, "key", None), "version": draft.number}
        activities += transitions.move(e, target, at=now, detail=detail, actor=actor, data=data)
        e.version_id = draft.pk
        moved.append(e)
    store.save_batch(moved, activities, at=now)
    return len(moved)


def version_policy_set(*, tenant, sequence, actor, field, value):
    """Set a version-level policy (`goals` or `exit_rules`) on the published version, and
    on the draft if one is open: like the sequence's other settings a policy applies at
    once to everyone on the published version, and a later publish of the draft must not
    bring the old one back. The caller holds the transaction. Returns the version."""
    version = SequenceVersion.objects.select_for_update().get(pk=sequence.current_version_id, tenant=tenant)
    if getattr(version, field) != value:
        audit(tenant=tenant, actor=actor, sequence=sequence, action=f"{field}_changed",
              changes={field: [getattr(version, field), value]})
        setattr(version, field, value)
        version.save(update_fields=[field])
    SequenceVersion.objects.filter(sequence=sequence, state=VersionState.DRAFT).update(**{field: value})
    sequence.current_version = version  # the caller's instance in step with the row
    return version
