from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scendcore", "0004_reputation_thresholds"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="timezone",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
