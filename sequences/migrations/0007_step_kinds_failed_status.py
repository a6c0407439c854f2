"""Step.kind becomes the engine's step type: "message" for email and SMS steps, "task"
for task and call steps (until now every step said "action" and the channel decided).
Enrollments and activity rows gain the "failed" status and kind."""
from django.db import migrations, models

TASK_CHANNELS = ("task", "call_reminder")


def kinds_from_channels(apps, schema_editor):
    Step = apps.get_model("sequences", "Step")
    Step.objects.filter(channel__in=TASK_CHANNELS).update(kind="task")
    Step.objects.exclude(channel__in=TASK_CHANNELS).update(kind="message")


def kinds_back(apps, schema_editor):
    apps.get_model("sequences", "Step").objects.update(kind="action")


class Migration(migrations.Migration):
    dependencies = [("sequences", "0006_fewer_write_path_indexes")]

    operations = [
        migrations.AlterField(
            model_name="step",
            name="kind",
            field=models.CharField(
                choices=[("message", "Message"), ("task", "Task")], default="message", max_length=16
            ),
        ),
        migrations.RunPython(kinds_from_channels, kinds_back),
        migrations.AlterField(
            model_name="enrollment",
            name="status",
            field=models.CharField(
                choices=[("active", "Active"), ("paused", "Paused"), ("completed", "Completed"),
                         ("unenrolled", "Unenrolled"), ("failed", "Failed")],
                default="active", max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="activity",
            name="kind",
            field=models.CharField(
                choices=[("enrolled", "Enrolled"), ("auto_enrolled", "Auto-enrolled"),
                         ("step_scheduled", "Step scheduled"), ("step_executed", "Step executed"),
                         ("step_skipped", "Step skipped"), ("deferred", "Deferred"), ("waiting", "Waiting"),
                         ("paused", "Paused"), ("resumed", "Resumed"), ("exited", "Exited"),
                         ("completed", "Completed"), ("moved", "Moved by a sequence edit"), ("failed", "Failed")],
                max_length=24,
            ),
        ),
    ]
