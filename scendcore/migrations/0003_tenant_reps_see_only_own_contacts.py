from django.db import migrations, models


class Migration(migrations.Migration):
    """Existing workspaces keep today's visibility: reps see every contact until an admin
    turns this on."""

    dependencies = [
        ("scendcore", "0002_tenant_reps_may_auto_send"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="reps_see_only_own_contacts",
            field=models.BooleanField(
                default=False, help_text="Reps see only the contacts they own; managers and admins see all."
            ),
        ),
    ]
