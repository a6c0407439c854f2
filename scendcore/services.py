"""Writes of the foundation: atomic, keyword-only, audited."""
from django.db import transaction

from .audit import audit_record, field_changes
from .models import Membership, Tenant

SETTINGS_FIELDS = (
    "name", "default_timezone", "postal_address",
    "frequency_cap_messages", "frequency_cap_hours",
    "send_window_enabled", "default_window_days", "default_window_start", "default_window_end",
    "tracking_enabled", "allowed_link_domains", "reps_can_approve", "reps_may_auto_send",
    "reps_see_only_own_contacts",
)


@transaction.atomic
def tenant_settings_update(*, tenant, actor, values):
    """Apply validated settings to the tenant and record what changed. Returns the
    fresh tenant and the {field: [old, new]} changes (empty when nothing changed)."""
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = {name: getattr(locked, name) for name in SETTINGS_FIELDS}
    after = {name: values[name] for name in SETTINGS_FIELDS if name in values}
    changes = field_changes(before, after)
    if not changes:
        return locked, {}
    for name in changes:
        setattr(locked, name, after[name])
    locked.save(update_fields=list(changes))
    audit_record(
        tenant=locked, actor=actor, object_type="tenant", object_id=locked.pk,
        action="settings_updated", changes=changes,
    )
    return locked, changes


@transaction.atomic
def membership_timezone_update(*, membership, actor, timezone):
    """Set the zone a member reads times in ("" follows the workspace). Returns the
    {field: [old, new]} change, empty when nothing changed."""
    locked = Membership.objects.select_for_update().get(pk=membership.pk)
    changes = field_changes({"timezone": locked.timezone}, {"timezone": timezone})
    if not changes:
        return {}
    locked.timezone = timezone
    locked.save(update_fields=["timezone"])
    audit_record(
        tenant=locked.tenant, actor=actor, object_type="membership", object_id=locked.pk,
        action="timezone_updated", changes=changes,
    )
    return changes
