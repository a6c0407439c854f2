from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import IntegrityError, transaction

from scendcore.audit import audit_record as audit

from ..models import Contact, ContactList, ListMembership


def _clean_name(name):
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the list a name.")
    if len(name) > 200:
        raise ValidationError("A list name has at most 200 characters.")
    ProhibitNullCharactersValidator()(name)
    return name


def _refuse_taken(*, tenant, name, contact_list=None):
    # Case-insensitive, like the unique_list_name_per_tenant constraint behind it.
    others = ContactList.objects.filter(tenant=tenant, name__iexact=name)
    if contact_list is not None:
        others = others.exclude(pk=contact_list.pk)
    if others.exists():
        raise ValidationError(f"There is already a list named “{name}”. Choose another name.")


def _save(contact_list, **kwargs):
    # Two people creating the same name at once: the constraint decides, the loser gets the message.
    try:
        with transaction.atomic():
            contact_list.save(**kwargs)
    except IntegrityError:
        raise ValidationError(f"There is already a list named “{contact_list.name}”. Choose another name.") from None


@transaction.atomic
def list_create(*, tenant, name, actor):
    name = _clean_name(name)
    _refuse_taken(tenant=tenant, name=name)
    contact_list = ContactList(tenant=tenant, name=name, created_by=actor)
    _save(contact_list)
    audit(tenant=tenant, actor=actor, object_type="list", object_id=contact_list.pk, action="created",
          changes={"name": contact_list.name})
    return contact_list


@transaction.atomic
def list_rename(*, tenant, contact_list, name, actor):
    if contact_list.tenant_id != tenant.pk:
        raise ValidationError("That list does not exist.")
    old, contact_list.name = contact_list.name, _clean_name(name)
    _refuse_taken(tenant=tenant, name=contact_list.name, contact_list=contact_list)
    _save(contact_list, update_fields=["name"])
    audit(tenant=tenant, actor=actor, object_type="list", object_id=contact_list.pk, action="renamed",
          changes={"name": [old, contact_list.name]})
    return contact_list


@transaction.atomic
def list_delete(*, tenant, contact_list, actor):
    """Deletes the list and its memberships; the contacts stay."""
    if contact_list.tenant_id != tenant.pk:
        raise ValidationError("That list does not exist.")
    audit(tenant=tenant, actor=actor, object_type="list", object_id=contact_list.pk, action="deleted",
          changes={"name": contact_list.name})
    contact_list.delete()


@transaction.atomic
def list_add_contacts(*, tenant, contact_list, contact_ids, actor):
    """Add the tenant's contacts among `contact_ids`; returns how many were new members."""
    if contact_list.tenant_id != tenant.pk:
        raise ValidationError("That list does not exist.")
    ids = set(Contact.objects.filter(tenant=tenant, pk__in=contact_ids).values_list("pk", flat=True))
    already = set(ListMembership.objects.filter(contact_list=contact_list, contact_id__in=ids)
                  .values_list("contact_id", flat=True))
    ListMembership.objects.bulk_create(
        [ListMembership(contact_list=contact_list, contact_id=pk) for pk in ids - already],
        batch_size=2000, ignore_conflicts=True,
    )
    added = len(ids - already)
    if added:
        audit(tenant=tenant, actor=actor, object_type="list", object_id=contact_list.pk, action="members_added",
              changes={"count": added})
    return added


@transaction.atomic
def list_remove_contacts(*, tenant, contact_list, contact_ids, actor):
    if contact_list.tenant_id != tenant.pk:
        raise ValidationError("That list does not exist.")
    removed, _ = ListMembership.objects.filter(
        contact_list=contact_list, contact__tenant=tenant, contact_id__in=contact_ids
    ).delete()
    if removed:
        audit(tenant=tenant, actor=actor, object_type="list", object_id=contact_list.pk, action="members_removed",
              changes={"count": removed})
    return removed
