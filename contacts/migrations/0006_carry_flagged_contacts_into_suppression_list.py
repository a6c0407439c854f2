"""Contacts already marked unsubscribed, bounced or do-not-contact get their address on
the suppression list, so deleting them no longer lifts the suppression."""
from django.db import migrations
from django.db.models import Q

BATCH = 2000


def carry_forward(apps, schema_editor):
    from contacts.suppression import address_hash, normalize_address

    Contact = apps.get_model("contacts", "Contact")
    Suppression = apps.get_model("contacts", "Suppression")
    flagged = (
        Contact.objects.filter(Q(do_not_contact=True) | Q(unsubscribed_at__isnull=False) | Q(bounced_at__isnull=False))
        .order_by("pk")
        .values_list("tenant_id", "email", "do_not_contact", "unsubscribed_at", "bounced_at", "updated_at")
    )
    batch = []
    for tenant_id, email, do_not_contact, unsubscribed_at, bounced_at, updated_at in flagged.iterator(chunk_size=BATCH):
        # The strongest reason first: an unsubscribe is the person's own request.
        if unsubscribed_at:
            reason, since = "unsubscribed", unsubscribed_at
        elif bounced_at:
            reason, since = "hard_bounce", bounced_at
        else:
            reason, since = "manual", updated_at
        batch.append(Suppression(
            tenant_id=tenant_id, address=normalize_address(email), address_hash=address_hash(email),
            reason=reason, source="carried over from the contact", created_at=since,
        ))
        if len(batch) >= BATCH:
            Suppression.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Suppression.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("contacts", "0005_suppression_list")]

    operations = [migrations.RunPython(carry_forward, migrations.RunPython.noop)]
