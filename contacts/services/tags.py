"""Tags: the workspace's own by name (created when a name is new: a template that tags
its contacts "High Intent" brings that tag with it), and tagging contacts. Putting a tag
on a contact is a contact fact (TAG_ADDED), so a flow waiting for that tag moves on."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scendcore.audit import audit_record as audit

from ..facts import facts_record
from ..models import Contact, EventKind, Tag

MAX_NAME = Tag._meta.get_field("name").max_length


def _check(tenant, tag):
    if tag is None or tag.tenant_id != tenant.pk:
        raise ValidationError({"tag": "No such tag in this workspace."})


@transaction.atomic
def contact_tags_add(*, tenant, contact_ids, tag, actor, at=None):
    """Put `tag` on the tenant's contacts `contact_ids` that do not have it yet; each
    newly tagged contact gets a TAG_ADDED fact. Returns how many were tagged."""
    _check(tenant, tag)
    at = at or timezone.now()
    through = Contact.tags.through
    ids = list(Contact.objects.filter(tenant=tenant, pk__in=contact_ids)
               .exclude(pk__in=through.objects.filter(tag_id=tag.pk).values("contact_id"))
               .values_list("pk", flat=True))
    if not ids:
        return 0
    through.objects.bulk_create([through(contact_id=pk, tag_id=tag.pk) for pk in ids], ignore_conflicts=True)
    facts_record(tenant=tenant, kind=EventKind.TAG_ADDED, contact_ids=ids, at=at, actor=actor,
                 data={"tag": tag.pk, "name": tag.name, "by": getattr(actor, "pk", None)})
    audit(tenant=tenant, actor=actor, object_type="contact", object_id="bulk", action="tag_added",
          changes={"tag": tag.pk, "count": len(ids)})
    return len(ids)


@transaction.atomic
def contact_tags_remove(*, tenant, contact_ids, tag, actor):
    """Take `tag` off the tenant's contacts `contact_ids`. Returns how many had it."""
    _check(tenant, tag)
    scoped = Contact.objects.filter(tenant=tenant, pk__in=contact_ids).values("pk")
    removed, _ = Contact.tags.through.objects.filter(tag_id=tag.pk, contact_id__in=scoped).delete()
    if removed:
        audit(tenant=tenant, actor=actor, object_type="contact", object_id="bulk", action="tag_removed",
              changes={"tag": tag.pk, "count": removed})
    return removed


@transaction.atomic
def tags_by_name(*, tenant, names, actor=None):
    """{name: Tag} for `names`, the tenant's existing tags and new ones for the rest
    (one insert for all; a concurrent creation of the same name is simply found)."""
    wanted = {name.strip() for name in names}
    if any(not name or len(name) > MAX_NAME for name in wanted):
        raise ValidationError(f"A tag name is 1 to {MAX_NAME} characters.")
    existing = {tag.name: tag for tag in Tag.objects.filter(tenant=tenant, name__in=wanted)}
    fresh = [Tag(tenant=tenant, name=name) for name in sorted(wanted - set(existing))]
    if fresh:
        Tag.objects.bulk_create(fresh, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(tenant=tenant, name__in=wanted)}
        created = [existing[tag.name] for tag in fresh if tag.name in existing]
        audit(tenant=tenant, actor=actor, object_type="tag",
                     object_id=",".join(str(tag.pk) for tag in created), action="created",
                     changes={"names": [tag.name for tag in created]})
    return existing
