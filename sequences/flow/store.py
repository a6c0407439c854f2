"""Writing what the transitions did: one enrollment (a user's action, an approval, a
task) or a whole batch (the processor), with the same columns and the same activity
writer, so the two paths cannot record a change differently."""
from django.db import connection, transaction

from scendcore.bulk import insert_rows, rows_update

from ..models import Activity, Enrollment

# Every column a transition may change. Both writers write all of them.
ENROLLMENT_FIELDS = (
    "status", "current_step_id", "step_pass", "next_run_at", "waiting_on", "pause_reason", "exit_reason",
    "last_step_at", "finished_at", "lease_owner", "lease_expires_at", "version_id", "context", "visits",
)
ACTIVITY_COLUMNS = (
    "tenant_id", "enrollment_id", "contact_id", "sequence_id", "step_id", "kind", "detail", "data", "actor_id",
    "created_at",
)


def activity_row(*, enrollment, kind, detail="", step_id=None, data=None, actor_id=None, at):
    """One activity row as a tuple in ACTIVITY_COLUMNS order (written by COPY)."""
    return (
        enrollment.tenant_id, enrollment.pk, enrollment.contact_id, enrollment.sequence_id, step_id, kind,
        detail[:300], data or {}, actor_id, at,
    )


def activities_write(rows):
    insert_rows(Activity, ACTIVITY_COLUMNS, rows)


def save(enrollment, rows, *, at):
    """Write one enrollment's state and its activity rows. The caller holds the row lock
    (`locked`) and the transaction."""
    Enrollment.objects.filter(pk=enrollment.pk).update(
        updated_at=at, **{field: getattr(enrollment, field) for field in ENROLLMENT_FIELDS}
    )
    enrollment.updated_at = at
    activities_write(rows)


def save_batch(enrollments, rows, *, at):
    """Write the state of many enrollments (read and locked in this transaction) in one
    UPDATE … FROM, and their activity rows in one COPY."""
    if enrollments:
        if connection.vendor == "postgresql":
            # No "still leased to us" condition: the rows were read FOR UPDATE in this same
            # transaction, so nobody else can have changed them. (Such a condition also
            # misleads the planner: a lease owner matches "1 row", and it then loops over
            # the whole batch once per row.)
            rows_update(Enrollment, enrollments, ENROLLMENT_FIELDS, also={"updated_at": at})
        else:
            for enrollment in enrollments:
                save(enrollment, (), at=at)
    activities_write(rows)


def locked(enrollment_id, *, tenant_id):
    """The enrollment row, locked for this transaction, scoped to its tenant, with what
    the transitions read (sequence, tenant, agent, contact, current step)."""
    assert transaction.get_connection().in_atomic_block, "lock inside a transaction"
    return (
        # Lock only the enrollment row: current_step is a nullable join, which
        # PostgreSQL refuses to lock ("nullable side of an outer join").
        Enrollment.objects.select_for_update(of=("self",))
        .select_related("sequence", "sequence__tenant", "sequence__agent", "contact", "current_step")
        .get(pk=enrollment_id, tenant_id=tenant_id)
    )


def locked_many(*, tenant, enrollment_ids=None, status, **filters):
    """Enrollments of `tenant` (by id, or by other filters) in one of `status`, locked,
    ordered by id (the processor's lock order), with what the transitions read."""
    rows = Enrollment.objects.select_for_update(of=("self",)).select_related(
        "sequence", "sequence__tenant", "contact", "current_step"
    ).filter(tenant=tenant, status__in=list(status), **filters)
    if enrollment_ids is not None:
        rows = rows.filter(pk__in=enrollment_ids)
    return list(rows.order_by("pk"))
