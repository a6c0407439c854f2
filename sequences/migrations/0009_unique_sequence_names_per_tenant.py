from django.db import migrations, models
from django.db.models.functions import Lower


def rename_duplicates(apps, schema_editor):
    """Before the constraint: the oldest sequence keeps its name, each later one of the same
    name (any case) in its workspace becomes "Name (2)", "Name (3)" … so nothing is lost."""
    Sequence = apps.get_model("sequences", "Sequence")
    rows = list(Sequence.objects.order_by("tenant_id", "id").only("id", "tenant_id", "name"))
    taken, seen, renames = {}, set(), []
    for row in rows:
        taken.setdefault(row.tenant_id, set()).add(row.name.lower())
    for row in rows:
        if (row.tenant_id, row.name.lower()) not in seen:
            seen.add((row.tenant_id, row.name.lower()))
            continue
        n = 2
        while f"{row.name[:190]} ({n})".lower() in taken[row.tenant_id]:
            n += 1
        row.name = f"{row.name[:190]} ({n})"
        taken[row.tenant_id].add(row.name.lower())
        renames.append(row)
    Sequence.objects.bulk_update(renames, ["name"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("sequences", "0008_sequence_test_mode")]

    operations = [
        migrations.RunPython(rename_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="sequence",
            constraint=models.UniqueConstraint("tenant", Lower("name"), name="unique_sequence_name_per_tenant"),
        ),
    ]
