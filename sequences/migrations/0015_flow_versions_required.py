import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Every step now has its version and key (0014): both become required, keys unique
    within a version, and the outline's order is read per version."""

    dependencies = [("sequences", "0014_versions_from_steps")]

    operations = [
        migrations.RemoveIndex(model_name="step", name="sequences_s_sequenc_4ba489_idx"),
        migrations.AlterField(model_name="step", name="key", field=models.CharField(max_length=64)),
        migrations.AlterField(
            model_name="step", name="version",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="nodes",
                                    to="sequences.sequenceversion"),
        ),
        migrations.AddIndex(model_name="step", index=models.Index(fields=["version", "order"], name="step_version_order_idx")),
        migrations.AddConstraint(
            model_name="step",
            constraint=models.UniqueConstraint(fields=("version", "key"), name="unique_node_key_per_version"),
        ),
    ]
