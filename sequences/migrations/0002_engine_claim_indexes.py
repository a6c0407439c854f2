"""Indexes for the processor's claim.

`enrollment_claim_idx` holds only rows that can become due and are not leased, keyed by
priority then due time: the sweep probes each priority level in order, so the cost of a
claim grows with the batch, never with the table, and leased rows leave the index the
moment they are claimed. `enrollment_lease_idx` holds only leased rows, so finding
leases that ran out (a dead worker) is one short range scan.

Raw SQL on purpose: the model's own `enrollment_due_idx` stays as declared.
"""
from django.db import migrations

CLAIM = (
    "CREATE INDEX IF NOT EXISTS enrollment_claim_idx ON sequences_enrollment "
    "(priority DESC, next_run_at) "
    "WHERE status = 'active' AND next_run_at IS NOT NULL AND lease_owner = ''"
)
LEASE = (
    "CREATE INDEX IF NOT EXISTS enrollment_lease_idx ON sequences_enrollment "
    "(lease_expires_at) WHERE status = 'active' AND lease_owner <> ''"
)


class Migration(migrations.Migration):
    dependencies = [("sequences", "0001_initial")]

    operations = [
        migrations.RunSQL(CLAIM, reverse_sql="DROP INDEX IF EXISTS enrollment_claim_idx"),
        migrations.RunSQL(LEASE, reverse_sql="DROP INDEX IF EXISTS enrollment_lease_idx"),
    ]
