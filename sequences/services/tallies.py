"""Folding the enrollment tallies' changes (models.EnrollmentTally, by user, and
models.SequenceTally, by sequence and step) into one row per key, so the dashboard's,
the sequences list's and the builder's reads stay a handful of index rows."""
from collections import defaultdict

from django.db import connection, transaction

from ..models import EnrollmentTally, SequenceTally

# Each table's key columns (model field attnames, also its column names).
KEYS = {EnrollmentTally: ("tenant_id", "user_id", "status"), SequenceTally: ("tenant_id", "sequence_id", "step_id", "status")}


def _fold(model, key):
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in key)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} RETURNING {columns}, delta")
        rows = cursor.fetchall()
        sums = defaultdict(int)
        for *values, delta in rows:
            sums[tuple(values)] += delta
        # Sorted with None (no current step) first: a tuple with None does not compare.
        ordered = sorted(sums.items(), key=lambda item: [(v is not None, v) for v in item[0]])
        model.objects.bulk_create(model(**dict(zip(key, values)), delta=n) for values, n in ordered if n)
    return len(rows)


def compact_tallies():
    """Replace every change row with one sum per key; keys that sum to zero (a deleted
    tenant's, user's or sequence's, a status emptied) leave no row. One DELETE …
    RETURNING takes exactly the rows it sums: a change committed meanwhile is not
    deleted, so it is neither lost nor counted twice, and a reader sees the rows before
    or after, both the same figures. Returns the number of rows folded."""
    return sum(_fold(model, key) for model, key in KEYS.items())
