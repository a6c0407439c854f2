"""Whole definitions: a sequence created from a definition document (the API's, a flow
template's), a document saved over the version being edited, and the problems of
either keyed like the API's errors ({"nodes.<key>.<field>": [...]}).

A new sequence's version 1 is published from the start, so a document with any problem
creates nothing. A later save goes into a draft once contacts are on the published
version (then its problems are reported and a publish refuses them); while nobody is on
it yet the save changes the published version itself, so it is refused like a publish.
"""
import copy
from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..flow import store, transitions
from ..flow.definition import node_field, read_document
from ..models import EnrollmentStatus, Sequence, SequenceVersion, Step, VersionState, WaitingOn
from .editing import audit, lock_editable, touch
from .sequences import sequence_create, sequence_update_settings
from .versions import definition_save, draft_of

TAG_FIELD = "tag"
OWN_FIELDS = ("name", "description")  # a definition's own fields; the others are its "settings"
# An enrollment waiting on one of these is in the middle of its step's work.
MID_STEP = (WaitingOn.AGENT, WaitingOn.APPROVAL, WaitingOn.TASK, WaitingOn.DELIVERY)


def keyed(problems):
    """flow_problems' {node key: {field: [message]}} as {"nodes.<key>.<field>": [message]};
    a problem of the whole flow keeps its field name."""
    from ..engine.validation import FLOW

    return {field if key == FLOW else node_field(key, field): list(messages)
            for key, fields in problems.items() for field, messages in fields.items()}


def _goal_problems(goals, *, tenant):
    """A goal that moves contacts names one of this workspace's sequences."""
    problems = {}
    for index, goal in enumerate(goals, start=1):
        target = goal.get("sequence")
        if goal.get("action") != "move" and target is None:
            continue
        where = f"goals.{goal.get('key') or index}.sequence"
        if not isinstance(target, int) or isinstance(target, bool) or not 1 <= target < 2**63:
            problems[where] = ["Choose the sequence this goal moves contacts to."]
        elif not Sequence.objects.filter(tenant=tenant, pk=target).exists():
            problems[where] = ["Choose one of this workspace's sequences."]
    return problems


def nodes_problems(nodes, goals, *, tenant):
    """Every problem of a flow made of `nodes` with `goals`, keyed like the API's errors."""
    from ..engine.validation import flow_problems

    return {**keyed(flow_problems(nodes, tenant=tenant)), **_goal_problems(goals, tenant=tenant)}


def document_problems(document, *, tenant):
    """The problems of a definition document: its shape first, then its sense."""
    nodes, goals, _, shape = read_document(document)
    if shape:
        return dict(shape)
    return nodes_problems(nodes, goals, tenant=tenant)


def version_problems(version, *, tenant):
    return nodes_problems(list(Step.objects.filter(version=version)), list(version.goals or ()), tenant=tenant)


def _settings_apply(*, tenant, sequence, actor, settings):
    try:
        return sequence_update_settings(tenant=tenant, sequence=sequence, actor=actor, values=settings)
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            raise ValidationError({name if name in OWN_FIELDS else f"settings.{name}": messages
                                   for name, messages in error.message_dict.items()}) from None
        raise ValidationError({"settings": error.messages}) from None


@transaction.atomic
def definition_create(*, tenant, actor, name, document, description="", settings=None):
    """A sequence (a draft to activate) with `settings` (Sequence fields, related objects
    already this tenant's) whose version 1 is `document`; refused whole, keyed like the
    API's errors, when the document or the settings have a problem."""
    problems = document_problems(document, tenant=tenant)
    if problems:
        raise ValidationError(problems)
    sequence = sequence_create(tenant=tenant, actor=actor, name=name, description=description)
    if settings:
        sequence = _settings_apply(tenant=tenant, sequence=sequence, actor=actor, settings=settings)
    definition_save(tenant=tenant, sequence=sequence, actor=actor, document=document)
    sequence.refresh_from_db()
    return sequence


@transaction.atomic
def definition_update(*, tenant, sequence, actor, document, settings=None):
    """Save `document` (and `settings`) into the version being edited: (version, its
    problems). Refused, with nothing saved, when that version is the published one and
    the flow has problems."""
    if settings:
        sequence = _settings_apply(tenant=tenant, sequence=sequence, actor=actor, settings=settings)
    version = definition_save(tenant=tenant, sequence=sequence, actor=actor, document=document)
    problems = version_problems(version, tenant=tenant)
    if problems and version.state == VersionState.PUBLISHED:
        raise ValidationError(problems)
    return version, problems


@transaction.atomic
def definition_publish(*, tenant, sequence, actor, move="stay", node_map=None, now=None):
    """Publish the sequence's draft: (the published version, how many contacts moved).
    Refused whole, each problem on its node, when the flow has problems. Contacts in
    flight stay on their version, or with move="map" go to the same node of the new
    version (`node_map` {old key: new key} for a node that is gone or renamed; a removed
    node that holds contacts must be mapped). A contact in the middle of a step (its
    draft, approval, task or delivery, or a claim by the processor) stays: moving it
    would run that step again under the new node."""
    now = now or timezone.now()
    sequence = lock_editable(tenant=tenant, sequence=sequence)
    if node_map and move != "map":
        raise ValidationError({"node_map": ['A node map moves contacts: send it with "move": "map".']})
    draft = draft_of(sequence)
    if draft is None:
        # Edits went into the published version itself (nobody was on it yet): there is
        # nothing to publish, and the version is checked as a publish would.
        current = sequence.current_version
        problems = version_problems(current, tenant=tenant)
        if problems:
            raise ValidationError(problems)
        return current, 0
    problems = version_problems(draft, tenant=tenant)
    if problems:
        raise ValidationError(problems)
    old = sequence.current_version
    moved = _move_in_flight(tenant=tenant, sequence=sequence, old=old, new=draft, node_map=node_map or {},
                            actor=actor, now=now) if move == "map" else 0
    SequenceVersion.objects.filter(pk=old.pk).update(state=VersionState.RETIRED)
    SequenceVersion.objects.filter(pk=draft.pk).update(state=VersionState.PUBLISHED, published_at=now,
                                                       published_by=actor)
    Sequence.objects.filter(pk=sequence.pk).update(current_version=draft)
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="version_published",
          changes={"version": draft.number, "from_version": old.number, "move": move, "moved": moved})
    draft.refresh_from_db()
    return draft, moved


def _mid_step(e, now):
    """Whether `e` is in the middle of its step: its work is under way, or a worker holds
    it (a paused sequence's parked rows are only set aside, not held)."""
    held = e.lease_expires_at is not None and e.lease_expires_at > now and e.lease_owner != transitions.PARKED
    return e.waiting_on in MID_STEP or held


def _move_in_flight(*, tenant, sequence, old, new, node_map, actor, now):
    old_nodes = {node.key: node for node in Step.objects.filter(version=old)}
    new_nodes = {node.key: node for node in Step.objects.filter(version=new)}
    problems = {}
    for source, target in node_map.items():
        if source not in old_nodes:
            problems[f"node_map.{source}"] = [f"“{source}” is not a node of version {old.number}."]
        elif target not in new_nodes:
            problems[f"node_map.{source}"] = [f"“{target}” is not a node of version {new.number}."]
    rows = store.locked_many(tenant=tenant, sequence=sequence, version=old, current_step__isnull=False,
                             status=[EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED])
    idle = [e for e in rows if not _mid_step(e, now)]
    unmapped = Counter(e.current_step.key for e in idle if node_map.get(e.current_step.key, e.current_step.key)
                       not in new_nodes)
    for key, count in unmapped.items():
        problems.setdefault(f"node_map.{key}", []).append(
            f"{count} contact{'s are' if count != 1 else ' is'} at “{old_nodes[key].title or key}”, which version "
            f"{new.number} does not have: map it to one of its nodes.")
    if problems:
        raise ValidationError(problems)
    activities = []
    for e in idle:
        target = new_nodes[node_map.get(e.current_step.key, e.current_step.key)]
        activities += transitions.move(
            e, target, at=now, actor=actor, data={"from_version": old.number, "to_version": new.number},
            detail=f"Moved to version {new.number} at “{target.title or target.key}” by a publish")
        e.version_id = new.pk
    store.save_batch(idle, activities, at=now)
    return len(idle)


def tag_names(document):
    """Every tag a document names rather than gives by id ({"tag": "High Intent"})."""
    found, stack = set(), [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for name, inner in value.items():
                if name == TAG_FIELD and isinstance(inner, str):
                    found.add(inner)
                else:
                    stack.append(inner)
        elif isinstance(value, list):
            stack.extend(value)
    return found


def with_tag_ids(document, tags):
    """A copy of `document` with each tag name replaced by the id of `tags[name]`."""
    document = copy.deepcopy(document)
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for name, inner in value.items():
                if name == TAG_FIELD and isinstance(inner, str):
                    value[name] = tags[inner].pk
                else:
                    stack.append(inner)
        elif isinstance(value, list):
            stack.extend(value)
    return document


def template_document(*, tenant, template, actor=None):
    """A flow template's document for `tenant`: the tags it names are the tenant's (made
    when new)."""
    from contacts.services.tags import tags_by_name

    names = tag_names(template.document)
    tags = tags_by_name(tenant=tenant, names=names, actor=actor) if names else {}
    return with_tag_ids(template.document, tags)
