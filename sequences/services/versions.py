"""A sequence's versions: the first one every sequence starts with, the one an edit
changes, and a whole definition written into it."""
from django.db import transaction
from django.db.models import Max

from ..flow.definition import NODE_COLUMNS
from ..models import Enrollment, Sequence, SequenceVersion, Step, VersionState
from .editing import audit, lock_editable, touch


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


def shown_version_id(sequence):
    """The version the builder shows, without making one: the draft, else the published."""
    draft = draft_of(sequence)
    return draft.pk if draft is not None else sequence.current_version_id


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
    from django.core.exceptions import ValidationError

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
