"""Set-based contact changes a flow's action nodes make for many contacts at once (tags,
lead status; tags are contacts.services.tags'). Each scopes the contacts to the tenant
again, writes with a fixed number of statements, records the facts a flow may wait for,
and is audited once per call."""
import functools
import json
import re
from collections import defaultdict
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from scendcore.audit import audit_record as audit

from ..facts import facts_record
from ..models import Contact, EventKind, LeadStatus, ScoreBand

# Columns a flow may set; the others (email, phone, owner, lead status, flags) have rules
# of their own and their own services.
SETTABLE_FIELDS = ("first_name", "last_name", "company", "title", "score_band", "timezone")
MAX_FIELD_VALUE = 200
CUSTOM_KEY = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
COLUMNS = {f.name for f in Contact._meta.get_fields()}
_zones = functools.cache(available_timezones)


def field_value_problem(field, value):
    """Why a flow may not set `field` to `value` ('' when it may). A name that is not a
    contact column is a custom field."""
    if not isinstance(value, str):
        return "The value is text."
    if field in SETTABLE_FIELDS:
        if len(value) > Contact._meta.get_field(field).max_length:
            return f"At most {Contact._meta.get_field(field).max_length} characters."
        if field == "score_band" and value not in ScoreBand.values:
            return f"A score band is one of {', '.join(ScoreBand.values)}."
        if field == "timezone" and value and value not in _zones():
            return "Not a timezone name (for example Europe/Paris)."
        return ""
    if field in COLUMNS:
        return f"A flow cannot set “{field}”."
    if not CUSTOM_KEY.match(field or ""):
        return "A custom field name is lowercase letters, digits and underscores."
    if len(value) > MAX_FIELD_VALUE:
        return f"At most {MAX_FIELD_VALUE} characters."
    return ""


@transaction.atomic
def contacts_field_set(*, tenant, field, value, contact_ids, actor=None, at=None):
    """Set a column of SETTABLE_FIELDS or a custom field to `value` for the tenant's
    contacts among `contact_ids`, in one UPDATE."""
    problem = field_value_problem(field, value)
    if problem:
        raise ValidationError({field: problem})
    at = at or timezone.now()
    rows = Contact.objects.filter(tenant=tenant, pk__in=list(contact_ids))
    if field in SETTABLE_FIELDS:
        differ = list(rows.exclude(**{field: value}).values_list("pk", flat=True))
        changed = rows.update(**{field: value, "updated_at": at})
    else:
        differ = [pk for pk, fields in rows.values_list("pk", "custom_fields")
                  if not isinstance(fields, dict) or fields.get(field) != value]
        changed = rows.update(custom_fields=_custom_field_merge({field: value}), updated_at=at)
    if differ:
        # A flow waiting for this field to change moves on (contacts.facts).
        facts_record(tenant=tenant, kind=EventKind.FIELD_CHANGED, contact_ids=differ, at=at, actor=actor,
                     data={"field": field, "to": value, "by": getattr(actor, "pk", None)})
    audit(tenant=tenant, actor=actor, object_type="contact", object_id="bulk", action="field_set",
          changes={"field": field, "value": value, "count": changed})
    return changed


def _custom_field_merge(values):
    column = connection.ops.quote_name("custom_fields")
    if connection.vendor == "postgresql":
        return RawSQL(f"(CASE WHEN jsonb_typeof({column}) = 'object' THEN {column} ELSE '{{}}'::jsonb END) "
                      "|| %s::jsonb", [json.dumps(values)])
    return RawSQL(f"json_patch(CASE WHEN json_type({column}) = 'object' THEN {column} ELSE '{{}}' END, %s)",
                  [json.dumps(values)])


@transaction.atomic
def contacts_lead_status_set(*, tenant, status, contact_ids, actor=None, at=None):
    """Move the tenant's contacts among `contact_ids` to lead status `status`. The change
    is a fact (contacts.facts): converted and disqualified stop outreach, and whatever
    else reacts to a status change sees it. Returns how many changed."""
    if status not in LeadStatus.values:
        raise ValidationError({"status": f"A lead status is one of {', '.join(LeadStatus.values)}."})
    at = at or timezone.now()
    rows = list(Contact.objects.filter(tenant=tenant, pk__in=list(contact_ids)).exclude(lead_status=status)
                .values_list("pk", "lead_status"))
    if not rows:
        return 0
    by_old = defaultdict(list)
    for pk, old in rows:
        by_old[old].append(pk)
    # Facts first, then the contact rows: the lock order of contacts.facts.
    for old, ids in by_old.items():
        facts_record(tenant=tenant, kind=EventKind.STATUS_CHANGED, contact_ids=ids, at=at, actor=actor,
                     data={"from": old, "to": status, "by": getattr(actor, "pk", None)})
    Contact.objects.filter(pk__in=[pk for pk, _ in rows]).update(lead_status=status, updated_at=at)
    audit(tenant=tenant, actor=actor, object_type="contact", object_id="bulk", action="lead_status_set",
          changes={"status": status, "count": len(rows)})
    return len(rows)
