"""Contact edits and the bulk actions of the contacts page. `contact_ids` may be a list
of ids or a queryset of ids; every function scopes them to the tenant again."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scendcore.audit import audit_record as audit

from ..facts import fact_record, facts_record
from ..models import Contact, EventKind, SuppressionReason
from .suppressions import refuse_erased, suppression_add

EDITABLE = ("email", "phone", "first_name", "last_name", "company", "title", "timezone", "owner",
            "lead_status", "score_band")


def _scoped(tenant, contact_ids):
    return Contact.objects.filter(tenant=tenant, pk__in=contact_ids)


def contact_create(*, tenant, data, actor):
    """One contact typed in by hand (from ContactForm's cleaned data); owned by the
    person who adds it unless the form names another owner. An erased person's address
    is refused; an otherwise suppressed one is added, and stays suppressed."""
    from django.db import IntegrityError

    values = {name: data[name] for name in EDITABLE if name in data}
    refuse_erased(tenant=tenant, address=values.get("email", ""))
    values["owner"] = values.get("owner") or actor
    if values["owner"] is not None and not values["owner"].memberships.filter(tenant=tenant).exists():
        raise ValidationError({"owner": "Choose a member of this workspace."})
    try:
        with transaction.atomic():
            contact = Contact.objects.create(tenant=tenant, source="manual", **values)
    except IntegrityError:  # the same address added at the same moment by someone else
        raise ValidationError({"email": "Another contact already has this email address."}) from None
    audit(tenant=tenant, actor=actor, object_type="contact", object_id=contact.pk, action="created",
          changes={"email": contact.email})
    return contact


@transaction.atomic
def contact_update(*, tenant, contact, data, actor):
    """Apply validated `data` (from ContactForm) to one contact; a lead-status change is
    recorded on the timeline, and converted/disqualified stop all outreach."""
    if contact.tenant_id != tenant.pk:
        raise ValidationError("That contact does not exist.")
    if "email" in data and data["email"].strip().lower() != contact.email.strip().lower():
        refuse_erased(tenant=tenant, address=data["email"])
    changes = {}
    old_status = contact.lead_status
    for name in EDITABLE:
        if name in data and getattr(contact, name) != data[name]:
            before = getattr(contact, name)
            changes[name] = [str(before or ""), str(data[name] or "")]
            setattr(contact, name, data[name])
    if data.get("custom_fields"):
        # Only values are edited here: the keys stay the ones the contact already has.
        current = contact.custom_fields if isinstance(contact.custom_fields, dict) else {}
        merged = {**current, **{key: value for key, value in data["custom_fields"].items() if key in current}}
        if merged != current:
            changes["custom_fields"] = [current, merged]
            contact.custom_fields = merged
    if not changes:
        return contact
    contact.save()
    _fields_changed(tenant=tenant, contact=contact, changes=changes, actor=actor)
    if contact.lead_status != old_status:
        # Converted and disqualified leads stop all outreach (a reaction to the fact).
        fact_record(tenant=tenant, kind=EventKind.STATUS_CHANGED, contact=contact, actor=actor,
                    data={"from": old_status, "to": contact.lead_status, "by": getattr(actor, "pk", None)})
    audit(tenant=tenant, actor=actor, object_type="contact", object_id=contact.pk, action="updated", changes=changes)
    return contact


def _fields_changed(*, tenant, contact, changes, actor):
    """A FIELD_CHANGED fact per changed field (each custom field by its own key), so a
    flow waiting for a field to change moves on."""
    changed = []
    for name, (before, after) in changes.items():
        if name == "custom_fields":
            changed += [(key, before.get(key), value) for key, value in after.items() if before.get(key) != value]
        else:
            changed.append((name, before, after))
    for name, before, after in changed:
        facts_record(tenant=tenant, kind=EventKind.FIELD_CHANGED, contact_ids=[contact.pk], actor=actor,
                     data={"field": name, "from": before, "to": after, "by": getattr(actor, "pk", None)})


@transaction.atomic
def contacts_mark_do_not_contact(*, tenant, contact_ids, actor, at=None):
    """Flag the contacts and stop every open enrollment of theirs. Returns how many were
    newly flagged."""
    at = at or timezone.now()
    rows = list(_scoped(tenant, contact_ids).filter(do_not_contact=False).values_list("pk", "email"))
    if not rows:
        return 0
    # Their open enrollments exit (a reaction to the fact).
    ids = facts_record(tenant=tenant, kind=EventKind.DO_NOT_CONTACT, contact_ids=[pk for pk, _ in rows], at=at,
                       actor=actor, data={"by": getattr(actor, "pk", None)})
    # On the list too: deleting the contact must not lift it.
    suppression_add(tenant=tenant, addresses=[email for _, email in rows], reason=SuppressionReason.MANUAL,
                    source="marked do-not-contact", actor=actor, at=at)
    audit(tenant=tenant, actor=actor, object_type="contact", object_id="bulk", action="do_not_contact",
          changes={"count": len(ids)})
    return len(ids)


@transaction.atomic
def contacts_delete(*, tenant, contact_ids, actor):
    ids = list(_scoped(tenant, contact_ids).values_list("pk", flat=True))
    if ids:
        Contact.objects.filter(tenant=tenant, pk__in=ids).delete()
        audit(tenant=tenant, actor=actor, object_type="contact", object_id="bulk", action="deleted",
              changes={"count": len(ids), "ids": ids[:1000]})
    return len(ids)
