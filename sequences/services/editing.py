"""What every edit of a sequence does: lock its row (edits of one sequence happen one
after the other), refuse an archived one, bump its version, and leave an audit entry."""
from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from scendcore.models import AuditEntry

from ..models import Sequence, SequenceStatus


def audit(*, tenant, actor, sequence, action, changes=None):
    return AuditEntry.objects.create(
        tenant=tenant, actor=actor, object_type="sequence", object_id=str(sequence.pk),
        action=action, changes=changes or {},
    )


def touch(*, sequence, actor):
    """Bump the version (the processor and open pages can tell the sequence changed)."""
    Sequence.objects.filter(pk=sequence.pk).update(
        version=F("version") + 1, updated_by=actor, updated_at=timezone.now()
    )
    sequence.refresh_from_db(fields=["version", "updated_by", "updated_at"])


def lock(*, tenant, sequence):
    """The sequence row, locked: edits of one sequence happen one after the other."""
    return Sequence.objects.select_for_update().get(pk=sequence.pk, tenant=tenant)


def lock_editable(*, tenant, sequence):
    sequence = lock(tenant=tenant, sequence=sequence)
    if sequence.status == SequenceStatus.ARCHIVED:
        raise ValidationError("This sequence is archived and can no longer be changed.")
    return sequence
