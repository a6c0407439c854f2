"""Folding the enrollment tallies' changes (models.EnrollmentTally) into one row per
(tenant, user, status), so the dashboard's read stays a handful of index rows."""
from collections import defaultdict

from django.db import connection, transaction

from ..models import EnrollmentTally


def compact_tallies():
    """Replace every change row with one sum per key; keys that sum to zero (a deleted
    tenant's or user's, a status emptied) leave no row. One DELETE … RETURNING takes
    exactly the rows it sums: a change committed meanwhile is not deleted, so it is
    neither lost nor counted twice, and a reader sees the rows before or after, both
    the same figures. Returns the number of rows folded."""
    table = connection.ops.quote_name(EnrollmentTally._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} RETURNING tenant_id, user_id, status, delta")
        rows = cursor.fetchall()
        sums = defaultdict(int)
        for tenant_id, user_id, status, delta in rows:
            sums[tenant_id, user_id, status] += delta
        EnrollmentTally.objects.bulk_create(
            EnrollmentTally(tenant_id=t, user_id=u, status=s, delta=n) for (t, u, s), n in sorted(sums.items()) if n
        )
    return len(rows)
