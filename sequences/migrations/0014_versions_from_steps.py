"""Every existing sequence becomes version 1 of itself: its steps, in their order, are
the nodes of that version (keys "step-1" … "step-N", no edges: each continues with the
one below it, as before), and its enrollments are pinned to it, on the step they were
on. Nothing about an enrollment in flight changes: same step, pass, time and lease."""
from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Cast, Concat


def forwards(apps, schema_editor):
    Sequence = apps.get_model("sequences", "Sequence")
    SequenceVersion = apps.get_model("sequences", "SequenceVersion")
    Step = apps.get_model("sequences", "Step")
    Enrollment = apps.get_model("sequences", "Enrollment")
    for sequence in Sequence.objects.filter(current_version__isnull=True).order_by("pk").iterator():
        version = SequenceVersion.objects.create(
            tenant_id=sequence.tenant_id, sequence_id=sequence.pk, number=1, state="published",
            created_at=sequence.created_at, published_at=sequence.created_at,
            created_by_id=sequence.created_by_id, note="The sequence as it was before versions",
        )
        Sequence.objects.filter(pk=sequence.pk).update(current_version=version)
        Step.objects.filter(sequence_id=sequence.pk).update(
            version=version, key=Concat(Value("step-"), Cast(F("order"), output_field=Step._meta.get_field("key"))),
        )
        Enrollment.objects.filter(sequence_id=sequence.pk, version__isnull=True).update(version=version)


class Migration(migrations.Migration):
    dependencies = [("sequences", "0013_flow_versions")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
