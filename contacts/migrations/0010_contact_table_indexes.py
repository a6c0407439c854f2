"""Indexes for the contact table's sorts and filters.

Each sort (contacts.selectors.SORTS) gets an index within the tenant that ends in the
table's tie-breaker and the filter columns, replacing the bare (tenant, company) and
(tenant, -created_at) ones. "Not in a sequence" is an anti-join on open enrollments: a
partial index of them by contact (PostgreSQL only, like the search index of 0004) lets it
read the index alone instead of every enrollment row.
"""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

OPEN_ENROLLMENTS_INDEX = "enrollment_open_by_contact_idx"


def create_open_enrollments_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {OPEN_ENROLLMENTS_INDEX} ON sequences_enrollment (contact_id, tenant_id) "
        "WHERE status IN ('active', 'paused')"
    )


def drop_open_enrollments_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {OPEN_ENROLLMENTS_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0009_unique_list_names_per_tenant'),
        ('scendcore', '0006_audit_entry_plural_name'),
        # The enrollment table as first created is all the open-enrollment index needs.
        ('sequences', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='contact',
            name='contacts_co_tenant__e84cb2_idx',
        ),
        migrations.RemoveIndex(
            model_name='contact',
            name='contacts_co_tenant__effef0_idx',
        ),
        migrations.RemoveIndex(
            model_name='contact',
            name='contacts_co_tenant__569a01_idx',
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['tenant', 'last_name', 'first_name', 'id', 'lead_status', 'score_band', 'owner'], name='contact_table_name_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(models.F('tenant'), django.db.models.functions.text.Lower('email'), models.F('id'), models.F('lead_status'), models.F('score_band'), models.F('owner'), models.F('email'), name='contact_table_email_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['tenant', 'company', 'id', 'lead_status', 'score_band', 'owner'], name='contact_table_company_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['tenant', 'created_at', 'id', 'lead_status', 'score_band', 'owner'], name='contact_table_created_idx'),
        ),
        migrations.RunPython(create_open_enrollments_index, drop_open_enrollments_index),
    ]
