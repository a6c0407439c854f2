from scendcore.models import AuditEntry


def audit(*, tenant, actor, object_type, object_id, action, changes=None):
    return AuditEntry.objects.create(
        tenant=tenant, actor=actor, object_type=object_type, object_id=str(object_id), action=action,
        changes=changes or {},
    )
