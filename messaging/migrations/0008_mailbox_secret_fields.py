"""Mailbox passwords are SecretFields (found by the key rotation command, never editable
in forms), and smtp_password_env becomes operator-only. Stored values carry over as they
are: a name not on the operator's allow-list stops working with an error that says so."""
from django.db import migrations, models

import scendcore.credentials


class Migration(migrations.Migration):
    dependencies = [("messaging", "0007_sent_message_id_index")]

    operations = [
        migrations.AlterField(
            model_name="mailbox",
            name="imap_password_encrypted",
            field=scendcore.credentials.SecretField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="mailbox",
            name="smtp_password_encrypted",
            field=scendcore.credentials.SecretField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="mailbox",
            name="smtp_password_env",
            field=models.CharField(
                blank=True, max_length=100, verbose_name="SMTP password environment variable (operators only)",
                help_text="Set by operators only: a variable named SCENDCORE_TENANT_… and listed in "
                          "TENANT_SECRET_ENV_NAMES, used when no password is stored.",
            ),
        ),
    ]
