# The approval queue's order (oldest first, id breaking ties) gets an index that ends in the
# id, so a page's ids are read off it without a sort; it replaces (tenant, status, created_at).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('approvals', '0002_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='approvalrequest',
            name='approvals_a_tenant__51b93f_idx',
        ),
        migrations.AddIndex(
            model_name='approvalrequest',
            index=models.Index(fields=['tenant', 'status', 'created_at', 'id'], name='approval_queue_idx'),
        ),
    ]
