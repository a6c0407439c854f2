"""Custom events another system posts about a contact ("trial_started", "visited
pricing"): a contact fact, so a flow waiting for the event moves on at once, and the
contact's timeline shows it."""
import json

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scendcore.audit import audit_record as audit

from ..facts import facts_record
from ..models import EventKind

NAME_LENGTH = 100
MAX_DATA_BYTES = 16 * 1024


@transaction.atomic
def contact_custom_event_record(*, tenant, contact, name, data=None, actor, at=None):
    """Record the custom event `name` (with its `data`, a small JSON object) for one of
    the tenant's contacts. Returns the event's data as stored."""
    if contact.tenant_id != tenant.pk:
        raise ValidationError("That contact does not exist.")
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Name the event."]
    elif len(name) > NAME_LENGTH:
        errors["name"] = [f"At most {NAME_LENGTH} characters."]
    data = {} if data is None else data
    if not isinstance(data, dict):
        errors["data"] = ["Must be a JSON object."]
    elif len(json.dumps(data, separators=(",", ":"))) > MAX_DATA_BYTES:
        errors["data"] = [f"At most {MAX_DATA_BYTES // 1024} KB of JSON."]
    if errors:
        raise ValidationError(errors)
    at = at or timezone.now()
    stored = {"name": name, "data": data}
    facts_record(tenant=tenant, kind=EventKind.CUSTOM, contact_ids=[contact.pk], at=at, actor=actor, data=stored)
    audit(tenant=tenant, actor=actor, object_type="contact", object_id=contact.pk, action="custom_event",
          changes={"name": name})
    return stored
