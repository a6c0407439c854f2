"""Tags by name: the workspace's own, created when a name is new (a template that tags
its contacts "High Intent" brings that tag with it)."""
from django.core.exceptions import ValidationError
from django.db import transaction

from scendcore.audit import audit_record

from ..models import Tag

MAX_NAME = Tag._meta.get_field("name").max_length


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
        audit_record(tenant=tenant, actor=actor, object_type="tag",
                     object_id=",".join(str(tag.pk) for tag in created), action="created",
                     changes={"names": [tag.name for tag in created]})
    return existing
