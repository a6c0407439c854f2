"""A sequence's versions: the first one every sequence starts with."""
from ..models import Sequence, SequenceVersion, VersionState


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
