"""Per-sequence enrollment tallies (models.SequenceTally) for the sequences list and the
builder, kept by the enrollment triggers: on PostgreSQL the statement-level function of
migration 0011 gains a second contribution over the same transition tables; on SQLite
row triggers of their own. Then the enrollments there are already are counted in."""
import importlib

import django.db.models.deletion
from django.db import migrations, models

# The SQL this migration runs, frozen here like 0011's (sequences.tally_triggers may
# change later, in later migrations).
PG_ENROLLMENT_FUNCTION = """
CREATE OR REPLACE FUNCTION sequences_enrollment_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        
    PERFORM 1 FROM contacts_contact WHERE id = ANY(ARRAY(SELECT contact_id FROM (SELECT contact_id FROM new_rows) k)) ORDER BY id
        FOR KEY SHARE;

        
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT tenant_id, user_id, status, SUM(delta) FROM (
    SELECT r.tenant_id, v.user_id, r.status, 1 AS delta
    FROM (
        -- The owner by primary key, row by row: as a join, the planner (which cannot know
        -- how many rows a statement changed) may scan every contact to hash it.
        -- OFFSET 0 keeps the lookup one per row instead of one per use below.
        SELECT x.tenant_id, x.status, x.enrolled_by_id,
               (SELECT c.owner_id FROM contacts_contact c WHERE c.id = x.contact_id) AS owner_id
        FROM new_rows x OFFSET 0
    ) r
    CROSS JOIN LATERAL (VALUES (r.owner_id),
        (CASE WHEN r.enrolled_by_id IS DISTINCT FROM r.owner_id THEN r.enrolled_by_id END)) v(user_id)
    WHERE v.user_id IS NOT NULL
) changes
    GROUP BY tenant_id, user_id, status HAVING SUM(delta) <> 0;

        
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    SELECT tenant_id, sequence_id, current_step_id, status, SUM(delta) FROM (SELECT tenant_id, sequence_id, current_step_id, status, 1 AS delta FROM (TABLE new_rows) r) changes
    GROUP BY tenant_id, sequence_id, current_step_id, status HAVING SUM(delta) <> 0;

    ELSIF TG_OP = 'DELETE' THEN
        
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT tenant_id, user_id, status, SUM(delta) FROM (
    SELECT r.tenant_id, v.user_id, r.status, -1 AS delta
    FROM (
        -- The owner by primary key, row by row: as a join, the planner (which cannot know
        -- how many rows a statement changed) may scan every contact to hash it.
        -- OFFSET 0 keeps the lookup one per row instead of one per use below.
        SELECT x.tenant_id, x.status, x.enrolled_by_id,
               (SELECT c.owner_id FROM contacts_contact c WHERE c.id = x.contact_id) AS owner_id
        FROM old_rows x OFFSET 0
    ) r
    CROSS JOIN LATERAL (VALUES (r.owner_id),
        (CASE WHEN r.enrolled_by_id IS DISTINCT FROM r.owner_id THEN r.enrolled_by_id END)) v(user_id)
    WHERE v.user_id IS NOT NULL
) changes
    GROUP BY tenant_id, user_id, status HAVING SUM(delta) <> 0;

        
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    SELECT tenant_id, sequence_id, current_step_id, status, SUM(delta) FROM (SELECT tenant_id, sequence_id, current_step_id, status, -1 AS delta FROM (TABLE old_rows) r) changes
    GROUP BY tenant_id, sequence_id, current_step_id, status HAVING SUM(delta) <> 0;

    ELSE
        
    PERFORM 1 FROM contacts_contact WHERE id = ANY(ARRAY(SELECT contact_id FROM (SELECT id, contact_id FROM new_rows EXCEPT SELECT id, contact_id FROM old_rows) k)) ORDER BY id
        FOR KEY SHARE;

        
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT tenant_id, user_id, status, SUM(delta) FROM (
    SELECT r.tenant_id, v.user_id, r.status, -1 AS delta
    FROM (
        -- The owner by primary key, row by row: as a join, the planner (which cannot know
        -- how many rows a statement changed) may scan every contact to hash it.
        -- OFFSET 0 keeps the lookup one per row instead of one per use below.
        SELECT x.tenant_id, x.status, x.enrolled_by_id,
               (SELECT c.owner_id FROM contacts_contact c WHERE c.id = x.contact_id) AS owner_id
        FROM (SELECT id, tenant_id, contact_id, enrolled_by_id, status FROM old_rows EXCEPT ALL SELECT id, tenant_id, contact_id, enrolled_by_id, status FROM new_rows) x OFFSET 0
    ) r
    CROSS JOIN LATERAL (VALUES (r.owner_id),
        (CASE WHEN r.enrolled_by_id IS DISTINCT FROM r.owner_id THEN r.enrolled_by_id END)) v(user_id)
    WHERE v.user_id IS NOT NULL
 UNION ALL 
    SELECT r.tenant_id, v.user_id, r.status, 1 AS delta
    FROM (
        -- The owner by primary key, row by row: as a join, the planner (which cannot know
        -- how many rows a statement changed) may scan every contact to hash it.
        -- OFFSET 0 keeps the lookup one per row instead of one per use below.
        SELECT x.tenant_id, x.status, x.enrolled_by_id,
               (SELECT c.owner_id FROM contacts_contact c WHERE c.id = x.contact_id) AS owner_id
        FROM (SELECT id, tenant_id, contact_id, enrolled_by_id, status FROM new_rows EXCEPT ALL SELECT id, tenant_id, contact_id, enrolled_by_id, status FROM old_rows) x OFFSET 0
    ) r
    CROSS JOIN LATERAL (VALUES (r.owner_id),
        (CASE WHEN r.enrolled_by_id IS DISTINCT FROM r.owner_id THEN r.enrolled_by_id END)) v(user_id)
    WHERE v.user_id IS NOT NULL
) changes
    GROUP BY tenant_id, user_id, status HAVING SUM(delta) <> 0;

        
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    SELECT tenant_id, sequence_id, current_step_id, status, SUM(delta) FROM (SELECT tenant_id, sequence_id, current_step_id, status, -1 AS delta FROM (SELECT id, tenant_id, sequence_id, current_step_id, status FROM old_rows EXCEPT ALL SELECT id, tenant_id, sequence_id, current_step_id, status FROM new_rows) r UNION ALL SELECT tenant_id, sequence_id, current_step_id, status, 1 AS delta FROM (SELECT id, tenant_id, sequence_id, current_step_id, status FROM new_rows EXCEPT ALL SELECT id, tenant_id, sequence_id, current_step_id, status FROM old_rows) r) changes
    GROUP BY tenant_id, sequence_id, current_step_id, status HAVING SUM(delta) <> 0;

    END IF;
    RETURN NULL;
END $$;
"""

SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS sequences_sequence_tally_insert AFTER INSERT ON sequences_enrollment BEGIN
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    VALUES (NEW.tenant_id, NEW.sequence_id, NEW.current_step_id, NEW.status, 1);
END""",
    """CREATE TRIGGER IF NOT EXISTS sequences_sequence_tally_delete AFTER DELETE ON sequences_enrollment BEGIN
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    VALUES (OLD.tenant_id, OLD.sequence_id, OLD.current_step_id, OLD.status, -1);
END""",
    """CREATE TRIGGER IF NOT EXISTS sequences_sequence_tally_update AFTER UPDATE ON sequences_enrollment WHEN OLD.status IS NOT NEW.status OR OLD.tenant_id IS NOT NEW.tenant_id OR OLD.sequence_id IS NOT NEW.sequence_id OR OLD.current_step_id IS NOT NEW.current_step_id BEGIN
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    VALUES (OLD.tenant_id, OLD.sequence_id, OLD.current_step_id, OLD.status, -1);

    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    VALUES (NEW.tenant_id, NEW.sequence_id, NEW.current_step_id, NEW.status, 1);
END""",
]

SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS sequences_sequence_tally_insert',
    'DROP TRIGGER IF EXISTS sequences_sequence_tally_delete',
    'DROP TRIGGER IF EXISTS sequences_sequence_tally_update',
]

BACKFILL = """
    INSERT INTO sequences_sequencetally (tenant_id, sequence_id, step_id, status, delta)
    SELECT tenant_id, sequence_id, current_step_id, status, COUNT(*) FROM sequences_enrollment
    GROUP BY tenant_id, sequence_id, current_step_id, status
"""


def create_triggers(apps, schema_editor):
    # Triggers first, then the count: the migration's transaction holds the enrollment
    # table's trigger lock, so no write falls between the two.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_ENROLLMENT_FUNCTION)  # the triggers call it by name
    else:
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)
    schema_editor.execute(BACKFILL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        previous = importlib.import_module("sequences.migrations.0011_enrollment_tallies")
        schema_editor.execute(previous.PG_ENROLLMENT_FUNCTION)
    else:
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    # Only 0011: a wider dependency would pin contacts in tests that roll it back.
    dependencies = [
        ('sequences', '0011_enrollment_tallies'),
    ]

    operations = [
        migrations.CreateModel(
            name='SequenceTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('active', 'Active'), ('paused', 'Paused'), ('completed', 'Completed'), ('unenrolled', 'Unenrolled'), ('failed', 'Failed')], max_length=16)),
                ('delta', models.IntegerField()),
                ('sequence', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='sequences.sequence')),
                ('step', models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='sequences.step')),
                ('tenant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='scendcore.tenant')),
            ],
            options={
                'verbose_name_plural': 'sequence tallies',
                'indexes': [models.Index(fields=['tenant', 'sequence', 'status', 'step', 'delta'], name='sequence_tally_idx')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
