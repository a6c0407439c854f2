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

from sequences.tally_triggers import (
    BACKFILL, PG_CONTACT_FUNCTION, PG_DROP, PG_ENROLLMENT_FUNCTION, PG_TRIGGERS, SQLITE_DROP, SQLITE_TRIGGERS,
)


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
