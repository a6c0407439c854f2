"""Enrollment tallies for the dashboard, kept by database triggers.

Triggers, not Django code, because enrollments change through the ORM, queryset and
bulk updates, COPY and raw SQL (the processor's batches, the sweep), and a contact's
owner through forms, bulk reassignment and SET_NULL when a user is deleted: a trigger
sees every one of them. PostgreSQL: statement-level triggers over transition tables,
so a bulk enroll of 100,000 rows writes one change per (user, status), not 100,000.
SQLite (zero-config mode): row triggers with the same meaning.

A user's enrollments are those of contacts they own or that they enrolled, each counted
once (scendcore.selectors.my_enrollment_counts).

Concurrency (PostgreSQL, read committed): a status change reads the contact's owner
without a lock; an owner change, the rare write, takes them: the contact FOR UPDATE and
the contact's enrollments FOR SHARE, and only then reads the enrollments it moves. A
new enrollment (or one a merge moves) takes its contact FOR KEY SHARE, the lock its
foreign-key check would take at commit, before reading the owner. Either way, of two
such writes one waits for the other and reads what it wrote.
"""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The SQL as this migration first ran it, frozen here: sequences.tally_triggers holds
# the current SQL, which later migrations change.

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

    END IF;
    RETURN NULL;
END $$;
"""

PG_CONTACT_FUNCTION = """
CREATE OR REPLACE FUNCTION sequences_contact_owner_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT id, owner_id FROM new_rows EXCEPT ALL SELECT id, owner_id FROM old_rows) THEN
        RETURN NULL;  -- most contact updates leave the owner alone
    END IF;
    PERFORM 1 FROM contacts_contact WHERE id = ANY(ARRAY(SELECT id FROM (SELECT id, owner_id FROM new_rows EXCEPT ALL SELECT id, owner_id FROM old_rows) m)) ORDER BY id FOR UPDATE;
    PERFORM 1 FROM sequences_enrollment WHERE contact_id = ANY(ARRAY(SELECT id FROM (SELECT id, owner_id FROM new_rows EXCEPT ALL SELECT id, owner_id FROM old_rows) m))
        ORDER BY id FOR SHARE;
    
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT tenant_id, user_id, status, SUM(delta) FROM (
    SELECT e.tenant_id, m.owner_id AS user_id, e.status, -1 AS delta
    FROM sequences_enrollment e JOIN (SELECT id, owner_id FROM old_rows EXCEPT ALL SELECT id, owner_id FROM new_rows) m ON m.id = e.contact_id
    WHERE e.contact_id = ANY(ARRAY(SELECT id FROM (SELECT id, owner_id FROM old_rows EXCEPT ALL SELECT id, owner_id FROM new_rows) k))
      AND m.owner_id IS NOT NULL AND e.enrolled_by_id IS DISTINCT FROM m.owner_id
 UNION ALL 
    SELECT e.tenant_id, m.owner_id AS user_id, e.status, 1 AS delta
    FROM sequences_enrollment e JOIN (SELECT id, owner_id FROM new_rows EXCEPT ALL SELECT id, owner_id FROM old_rows) m ON m.id = e.contact_id
    WHERE e.contact_id = ANY(ARRAY(SELECT id FROM (SELECT id, owner_id FROM new_rows EXCEPT ALL SELECT id, owner_id FROM old_rows) k))
      AND m.owner_id IS NOT NULL AND e.enrolled_by_id IS DISTINCT FROM m.owner_id
) changes
    GROUP BY tenant_id, user_id, status HAVING SUM(delta) <> 0;

    RETURN NULL;
END $$;
"""

PG_TRIGGERS = [
    'CREATE TRIGGER sequences_enrollment_tally_insert AFTER INSERT ON sequences_enrollment REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sequences_enrollment_tally()',
    'CREATE TRIGGER sequences_enrollment_tally_delete AFTER DELETE ON sequences_enrollment REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sequences_enrollment_tally()',
    'CREATE TRIGGER sequences_enrollment_tally_update AFTER UPDATE ON sequences_enrollment REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sequences_enrollment_tally()',
    'CREATE TRIGGER sequences_contact_owner_tally AFTER UPDATE ON contacts_contact REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sequences_contact_owner_tally()',
]

PG_DROP = [
    'DROP TRIGGER IF EXISTS sequences_contact_owner_tally ON contacts_contact',
    'DROP TRIGGER IF EXISTS sequences_enrollment_tally_update ON sequences_enrollment',
    'DROP TRIGGER IF EXISTS sequences_enrollment_tally_delete ON sequences_enrollment',
    'DROP TRIGGER IF EXISTS sequences_enrollment_tally_insert ON sequences_enrollment',
    'DROP FUNCTION IF EXISTS sequences_contact_owner_tally()',
    'DROP FUNCTION IF EXISTS sequences_enrollment_tally()',
]

SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS sequences_enrollment_tally_insert AFTER INSERT ON sequences_enrollment BEGIN
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT NEW.tenant_id, u, NEW.status, 1 FROM (
        SELECT owner_id AS u FROM contacts_contact WHERE id = NEW.contact_id
        UNION SELECT NEW.enrolled_by_id
    ) WHERE u IS NOT NULL;
END""",
    """CREATE TRIGGER IF NOT EXISTS sequences_enrollment_tally_delete AFTER DELETE ON sequences_enrollment BEGIN
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT OLD.tenant_id, u, OLD.status, -1 FROM (
        SELECT owner_id AS u FROM contacts_contact WHERE id = OLD.contact_id
        UNION SELECT OLD.enrolled_by_id
    ) WHERE u IS NOT NULL;
END""",
    """CREATE TRIGGER IF NOT EXISTS sequences_enrollment_tally_update AFTER UPDATE ON sequences_enrollment WHEN OLD.status IS NOT NEW.status OR OLD.tenant_id IS NOT NEW.tenant_id OR OLD.contact_id IS NOT NEW.contact_id OR OLD.enrolled_by_id IS NOT NEW.enrolled_by_id BEGIN
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT OLD.tenant_id, u, OLD.status, -1 FROM (
        SELECT owner_id AS u FROM contacts_contact WHERE id = OLD.contact_id
        UNION SELECT OLD.enrolled_by_id
    ) WHERE u IS NOT NULL;

    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT NEW.tenant_id, u, NEW.status, 1 FROM (
        SELECT owner_id AS u FROM contacts_contact WHERE id = NEW.contact_id
        UNION SELECT NEW.enrolled_by_id
    ) WHERE u IS NOT NULL;
END""",
    """CREATE TRIGGER IF NOT EXISTS sequences_contact_owner_tally AFTER UPDATE OF owner_id ON contacts_contact
    WHEN OLD.owner_id IS NOT NEW.owner_id BEGIN
        INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
        SELECT e.tenant_id, OLD.owner_id, e.status, -1 FROM sequences_enrollment e
        WHERE e.contact_id = NEW.id AND OLD.owner_id IS NOT NULL AND e.enrolled_by_id IS NOT OLD.owner_id;
        INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
        SELECT e.tenant_id, NEW.owner_id, e.status, 1 FROM sequences_enrollment e
        WHERE e.contact_id = NEW.id AND NEW.owner_id IS NOT NULL AND e.enrolled_by_id IS NOT NEW.owner_id;
    END""",
]

SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS sequences_enrollment_tally_insert',
    'DROP TRIGGER IF EXISTS sequences_enrollment_tally_delete',
    'DROP TRIGGER IF EXISTS sequences_enrollment_tally_update',
    'DROP TRIGGER IF EXISTS sequences_contact_owner_tally',
]

BACKFILL = """
    INSERT INTO sequences_enrollmenttally (tenant_id, user_id, status, delta)
    SELECT tenant_id, user_id, status, COUNT(*) FROM (
        SELECT e.tenant_id, c.owner_id AS user_id, e.status
        FROM sequences_enrollment e JOIN contacts_contact c ON c.id = e.contact_id
        WHERE c.owner_id IS NOT NULL
        UNION ALL
        SELECT e.tenant_id, e.enrolled_by_id, e.status
        FROM sequences_enrollment e LEFT JOIN contacts_contact c ON c.id = e.contact_id
        WHERE e.enrolled_by_id IS NOT NULL AND (c.owner_id IS NULL OR c.owner_id <> e.enrolled_by_id)
    ) mine GROUP BY tenant_id, user_id, status
"""



def create_triggers(apps, schema_editor):
    # Triggers first, then the count: the migration's transaction holds the tables'
    # trigger locks, so no write falls between the two.
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(PG_ENROLLMENT_FUNCTION)
        schema_editor.execute(PG_CONTACT_FUNCTION)
    for statement in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        schema_editor.execute(statement)
    schema_editor.execute(BACKFILL)


def drop_triggers(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for statement in PG_DROP if postgres else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        # The oldest states the triggers and the table need: a later contacts or scendcore
        # migration here would pin them in tests that roll those apps back.
        ('contacts', '0002_initial'),
        ('scendcore', '0001_initial'),
        ('sequences', '0010_enrollment_table_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name='activity', name='sequences_a_tenant__2c40ea_idx'),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(fields=['tenant', '-created_at', '-id'], name='activity_feed_idx'),
        ),
        migrations.CreateModel(
            name='EnrollmentTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('active', 'Active'), ('paused', 'Paused'), ('completed', 'Completed'), ('unenrolled', 'Unenrolled'), ('failed', 'Failed')], max_length=16)),
                ('delta', models.IntegerField()),
                ('tenant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='scendcore.tenant')),
                ('user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name_plural': 'enrollment tallies',
                'indexes': [models.Index(fields=['tenant', 'user', 'status', 'delta'], name='enrollment_tally_idx')],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
