# The Messages table's orders (all states, and by state) and the Tasks page's orders (the
# team's open tasks, the Done tab) get indexes; the bare (tenant, state) index is a prefix of
# the by-state one and goes.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0014_inbound_test_copy_classification'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='outboundmessage',
            name='messaging_o_tenant__6def37_idx',
        ),
        migrations.AddIndex(
            model_name='outboundmessage',
            index=models.Index(fields=['tenant', '-created_at', '-id'], name='outbound_table_idx'),
        ),
        migrations.AddIndex(
            model_name='outboundmessage',
            index=models.Index(fields=['tenant', 'state', '-created_at', '-id'], name='outbound_table_state_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['tenant', 'status', 'due_at', 'id'], name='task_team_order_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(condition=models.Q(('status__in', ['completed', 'skipped'])), fields=['tenant', '-completed_at', '-id'], name='task_done_order_idx'),
        ),
    ]
