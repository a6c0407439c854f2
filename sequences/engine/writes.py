"""The set-based writes of a batch.

Rows are plain tuples, written with COPY (PostgreSQL's bulk path): activity rows straight
into their table; rows that must be created at most once (agent jobs, messages, tasks)
through a per-connection staging table and one INSERT … SELECT … ON CONFLICT DO NOTHING;
every enrollment of the batch (whatever happened to it: advanced, deferred, waiting,
paused, exited, parked) by one UPDATE … FROM the staged values. Nothing is saved row by
row, and no model instance is built for a row that is only inserted.

Zero-config (SQLite) development uses the ORM equivalents: small volumes, same results.
"""
import json

from django.db import connection

from ..models import Activity, Enrollment

ENROLLMENT_FIELDS = (
    "status", "current_step_id", "step_pass", "next_run_at", "waiting_on", "pause_reason", "exit_reason",
    "last_step_at", "finished_at", "lease_owner", "lease_expires_at",
)
ACTIVITY_COLUMNS = (
    "tenant_id", "enrollment_id", "contact_id", "sequence_id", "step_id", "kind", "detail", "data", "actor_id",
    "created_at",
)
JSON_COLUMNS = {"data", "flags", "review_reasons"}


def _postgres():
    return connection.vendor == "postgresql"


def _copy(cursor, table, columns, rows):
    json_positions = [i for i, c in enumerate(columns) if c.strip('"') in JSON_COLUMNS]
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            if json_positions:
                row = list(row)
                for i in json_positions:
                    row[i] = json.dumps(row[i])
            copy.write_row(row)


def _stage(cursor, table, columns):
    """A temporary table with these columns of `table`, emptied at every commit."""
    stage = f"_stage_{table}"
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {stage}")
    return stage


def insert_rows(model, columns, rows, *, once=False, returning=None):
    """Insert `rows` (tuples in `columns` order). With `once`, rows whose unique key
    already exists are left alone (ON CONFLICT DO NOTHING). With `returning` (column
    names), the values of those columns for the rows actually inserted."""
    rows = list(rows)
    if not rows:
        return []
    table = model._meta.db_table
    if not _postgres():
        objects = [model(**dict(zip(columns, row))) for row in rows]
        model.objects.bulk_create(objects, ignore_conflicts=once)
        return []
    cuts = connection.ops.quote_name
    quoted = [cuts(c) for c in columns]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if not once and not returning:
            _copy(raw, table, quoted, rows)
            return []
        stage = _stage(raw, table, quoted)
        _copy(raw, stage, quoted, rows)
        sql = f"INSERT INTO {table} ({', '.join(quoted)}) SELECT {', '.join(quoted)} FROM {stage}"
        if once:
            sql += " ON CONFLICT DO NOTHING"
        if returning:
            sql += f" RETURNING {', '.join(cuts(c) for c in returning)}"
        raw.execute(sql)
        return raw.fetchall() if returning else []


def enrollments_write(enrollments, *, lease_owner, at):
    """Write the in-memory state of `enrollments` (all leased to `lease_owner`)."""
    if not enrollments:
        return 0
    if not _postgres():
        count = 0
        for e in enrollments:
            values = {field: getattr(e, field) for field in ENROLLMENT_FIELDS}
            count += Enrollment.objects.filter(pk=e.pk, lease_owner=lease_owner).update(updated_at=at, **values)
        return count
    columns = ("id",) + ENROLLMENT_FIELDS
    with connection.cursor() as cursor:
        raw = cursor.cursor
        stage = _stage(raw, "sequences_enrollment", columns)
        _copy(raw, stage, columns, ([getattr(e, c if c != "id" else "pk") for c in columns] for e in enrollments))
        raw.execute(
            "UPDATE sequences_enrollment e SET "
            + ", ".join(f"{c} = v.{c}" for c in ENROLLMENT_FIELDS)
            + f", updated_at = %s FROM {stage} v WHERE e.id = v.id AND e.lease_owner = %s",
            [at, lease_owner],
        )
        return raw.rowcount


def activity_row(*, enrollment, kind, detail="", step_id=None, data=None, actor_id=None, at):
    return (
        enrollment.tenant_id, enrollment.pk, enrollment.contact_id, enrollment.sequence_id, step_id, kind,
        detail[:300], data or {}, actor_id, at,
    )


def activities_write(rows):
    insert_rows(Activity, ACTIVITY_COLUMNS, rows)


class RowShape:
    """The insert shape of a model: every concrete column but the primary key, with each
    field's default filled in for values the caller does not give."""

    def __init__(self, model):
        self.model = model
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.columns = tuple(f.column for f in fields)
        self.attnames = tuple(f.attname for f in fields)
        self.defaults = {}
        for f in fields:
            if f.has_default() and not callable(f.default):
                # Choices members become their plain value (COPY wants plain types).
                self.defaults[f.attname] = str(f.default) if isinstance(f.default, str) else f.default
            elif f.has_default():
                self.defaults[f.attname] = f.default  # called per row (list, dict, now …)
            elif f.null:
                self.defaults[f.attname] = None
            else:
                self.defaults[f.attname] = ""  # blank text columns (CharField without default)

    def row(self, **values):
        out = []
        for name in self.attnames:
            if name in values:
                out.append(values[name])
            else:
                default = self.defaults[name]
                out.append(default() if callable(default) else default)
        return tuple(out)

    def insert(self, rows, *, once=False, returning=None):
        return insert_rows(self.model, self.columns, rows, once=once, returning=returning)
