"""Set-based writes for hot paths: COPY rows straight into a table, insert rows that may
already exist through a staging table, and update many rows in one UPDATE … FROM.

Rows are plain tuples in column order; no model instance is built for a row that is only
inserted, and nothing is saved row by row. A unique index stays the last line of
defence: a duplicate fails the statement (with `once`, it is skipped instead).
Zero-config (SQLite) development uses the ORM equivalents: small volumes, same results.
"""
import functools
import json
import zlib

from django.db import connection, models

from .lookups import array_literal


def _postgres():
    return connection.vendor == "postgresql"


def _json(value):
    # Most JSON values written per step are empty (no flags, no extra data).
    if not value:
        return "[]" if isinstance(value, list) else "{}" if isinstance(value, dict) else json.dumps(value)
    return json.dumps(value)


def _timestamp(value):
    # psycopg's dumper took about 2 µs per aware datetime, 10 per step; the ISO text is
    # what PostgreSQL reads back as the same instant.
    return value.isoformat() if value is not None else None


@functools.cache
def _encoders(model, columns):
    """(position, encoder) for the columns of `model` whose values are turned into text
    in Python before the COPY: JSON, and timestamps."""
    fields = {f.column: f for f in model._meta.concrete_fields}
    encoders = []
    for position, column in enumerate(columns):
        field = fields[column.strip('"')]
        if isinstance(field, models.JSONField):
            encoders.append((position, _json))
        elif isinstance(field, models.DateTimeField):
            encoders.append((position, _timestamp))
    return tuple(encoders)


def _copy(cursor, model, table, columns, rows):
    """COPY `rows` into `table` (the model's own, or a staging table of its columns)."""
    encoders = _encoders(model, tuple(columns))
    # A batch's rows share most of these values (one `now`, one schedule's data): each
    # object is encoded once, found by identity, one memo per encoder. The object is
    # kept with its text, so no other object can take its id before the COPY ends.
    encoded = {encode: {} for _, encode in encoders}
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            if encoders:
                row = list(row)
                for position, encode in encoders:
                    value = row[position]
                    memo = encoded[encode]
                    known = memo.get(id(value))
                    if known is None:
                        known = memo[id(value)] = (value, encode(value))
                    row[position] = known[1]
            copy.write_row(row)


def _stage(cursor, table, columns):
    """A temporary table with these columns of `table`, emptied at every commit. Named
    after its columns too: a connection keeps its temporary tables, and two writers of
    the same table with other columns must not find each other's."""
    digest = zlib.crc32(",".join(columns).encode())
    stage = f"_stage_{table}_{digest:08x}"
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {stage}")
    return stage


def insert_rows(model, columns, rows, *, once=False):
    """Insert `rows` (tuples in `columns` order). With `once`, rows whose unique key
    already exists are left alone (ON CONFLICT DO NOTHING)."""
    rows = list(rows)
    if not rows:
        return
    table = model._meta.db_table
    if not _postgres():
        model.objects.bulk_create([model(**dict(zip(columns, row))) for row in rows], ignore_conflicts=once)
        return
    quoted = [connection.ops.quote_name(c) for c in columns]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        if not once:
            _copy(raw, model, table, quoted, rows)
            return
        stage = _stage(raw, table, quoted)
        _copy(raw, model, stage, quoted, rows)
        raw.execute(
            f"INSERT INTO {table} ({', '.join(quoted)}) SELECT {', '.join(quoted)} FROM {stage} ON CONFLICT DO NOTHING"
        )


def allocate_ids(model, count):
    """`count` new primary keys for `model`, for rows written by COPY whose ids other rows
    of the batch refer to (an agent job's id in its message)."""
    if not count:
        return []
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if _postgres():
            cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [_id_sequence(table, pk), count])
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction holds the database's only write lock (IMMEDIATE mode).
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT COALESCE(MAX({quote(pk)}), 0) FROM {quote(table)}")
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


@functools.cache
def _id_sequence(table, column):
    """The name of the sequence behind an identity column, looked up once per process:
    left in the statement, pg_get_serial_sequence ran for every id (5 ms per thousand
    instead of 0.4)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
        return cursor.fetchone()[0]


def rows_update(model, objects, fields, *, also=None):
    """Write `fields` (attnames) of `objects` in one UPDATE … FROM a staged copy, matched
    on the primary key (PostgreSQL). `also`: column -> one value for every row. Returns
    the number of rows updated.

    The staged table has no statistics, so the ids are also given as a plain "= ANY" on
    the target: the planner then knows it is after a batch of rows, not a join of two
    unknowns (without it, it chose a nested loop over both, quadratic in the batch)."""
    if not objects:
        return 0
    opts = model._meta
    attnames = [opts.pk.attname] + [opts.get_field(name).attname for name in fields]
    quote = connection.ops.quote_name
    names = [quote(opts.get_field(name).column) for name in attnames]
    constants = list((also or {}).items())
    assignments = [f"{name} = v.{name}" for name in names[1:]] + [f"{quote(c)} = %s" for c, _ in constants]
    ids = [o.pk for o in objects]
    with connection.cursor() as cursor:
        raw = cursor.cursor
        stage = _stage(raw, opts.db_table, names)
        _copy(raw, model, stage, names, ([getattr(o, a) for a in attnames] for o in objects))
        raw.execute(
            f"UPDATE {quote(opts.db_table)} t SET {', '.join(assignments)} FROM {stage} v "
            f"WHERE t.{names[0]} = v.{names[0]} AND t.{names[0]} = ANY(%s::bigint[])",
            [value for _, value in constants] + [array_literal(ids)[0]],
        )
        return raw.rowcount


class RowShape:
    """The insert shape of a model: every concrete column but the primary key (unless
    `with_pk`: ids from allocate_ids), with each field's default filled in for values the
    caller does not give."""

    def __init__(self, model, *, with_pk=False):
        self.model = model
        fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
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
        # Rows are filled from a prepared list: the processor builds two or three rows per
        # step, of 20-30 columns each.
        self._position = {name: i for i, name in enumerate(self.attnames)}
        self._factories = [(name, d) for name, d in self.defaults.items() if callable(d)]
        self._blank = [None if callable(self.defaults[name]) else self.defaults[name] for name in self.attnames]

    def row(self, **values):
        """A row tuple: the given values in place, defaults for the rest."""
        out = self._blank.copy()
        position = self._position
        for name, value in values.items():
            out[position[name]] = value
        for name, factory in self._factories:
            if name not in values:
                out[position[name]] = factory()
        return tuple(out)

    def insert(self, rows, *, once=False):
        insert_rows(self.model, self.columns, rows, once=once)
