from django.db import migrations, models


class Migration(migrations.Migration):
    """Existing workspaces start with the safe default: reps' drafts are reviewed."""

    dependencies = [
        ("scendcore", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="reps_may_auto_send",
            field=models.BooleanField(
                default=False, help_text="Reps may use agents that send drafts without review."
            ),
        ),
    ]
