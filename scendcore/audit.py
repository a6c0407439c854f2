"""The audit trail for configuration changes (tenant settings, sequences, agents …)."""
from .models import AuditEntry


def audit_record(*, tenant, actor, object_type, object_id, action, changes=None):
    return AuditEntry.objects.create(
        tenant=tenant,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        object_type=object_type,
        object_id=str(object_id),
        action=action,
        changes=changes or {},
    )


def _plain(value):
    """JSON-friendly form of a field value for the `changes` column."""
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    return str(value)


def field_changes(before: dict, after: dict) -> dict:
    """{field: [old, new]} for every field whose value differs."""
    return {
        name: [_plain(before.get(name)), _plain(value)]
        for name, value in after.items()
        if before.get(name) != value
    }
