"""Reading a claimed batch: every enrollment leased to the batch, locked, with its
contact, in one query.

This is the processor's hottest read (every due step passes through it), and building
Django model instances the usual way cost more than the query: the SQL compiler, one
`Model.__init__` per row and object, and Django's pure-Python timestamp loader. On
PostgreSQL the rows are read with a raw cursor that uses psycopg's compiled timestamp
loader, and the instances are filled directly (every concrete field, so nothing is
deferred; field converters such as JSON decoding still run). They are ordinary saved
instances: `_state.adding` is False and `_state.db` is set, as `Model.from_db` does.
Model init signals are not sent for them (no receiver in this project listens to
Enrollment or Contact init).
"""
import functools

from django.db import connection, connections
from django.db.models.base import ModelState

from contacts.models import Contact
from scendcore.lookups import array_literal

from ..models import Enrollment


class _Filler:
    """Builds instances of `model` from rows of its concrete fields, in field order."""

    def __init__(self, model):
        self.model = model
        self.fields = tuple(model._meta.concrete_fields)
        self.attnames = tuple(f.attname for f in self.fields)
        self.converters = tuple(
            (f.attname, f, tuple(f.get_db_converters(connection))) for f in self.fields
            if f.get_db_converters(connection)
        )

    def columns(self, alias):
        return [f"{alias}.{connection.ops.quote_name(f.column)}" for f in self.fields]

    def build(self, values, db):
        """`db`: the connection wrapper the rows came from (looked up once per batch:
        Django's connection proxy costs a thread-local lookup per attribute access)."""
        obj = self.model.__new__(self.model)
        state = ModelState()
        state.adding = False
        state.db = db.alias
        data = obj.__dict__
        data.update(zip(self.attnames, values))
        for attname, field, converters in self.converters:
            value = data[attname]
            for convert in converters:
                value = convert(value, field, db)
            data[attname] = value
        data["_state"] = state
        return obj


def _use_compiled_timestamps(cursor):
    """Load timestamptz on this raw cursor with psycopg's own (compiled) loader instead of
    Django's Python subclass of it. Same values: the connection's TimeZone is UTC, so
    both give aware UTC datetimes."""
    from psycopg import postgres, pq

    oid = postgres.types["timestamptz"].oid
    cursor.adapters.register_loader(oid, postgres.adapters.get_loader(oid, pq.Format.TEXT))


@functools.cache
def _filler(model):
    return _Filler(model)


def attach(obj, name, value):
    """Set a forward relation's cached object without the descriptor's checks (the
    caller guarantees `value` is the row `obj.<name>_id` points at)."""
    obj._state.fields_cache[name] = value


def claimed_enrollments(*, ids, lease_owner):
    """The enrollments of `ids` still leased to `lease_owner`, locked FOR UPDATE, each with
    its contact attached, in id order (a fixed lock order between concurrent batches)."""
    if connection.vendor != "postgresql":
        return list(
            Enrollment.objects.select_for_update(of=("self",)).select_related("contact")
            .filter(pk__in=ids, lease_owner=lease_owner).order_by("pk")
        )
    enrollment, contact = _filler(Enrollment), _filler(Contact)
    width = len(enrollment.fields)
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        _use_compiled_timestamps(cursor)
        cursor.execute(
            "SELECT " + ", ".join(enrollment.columns("e") + contact.columns("c"))
            + " FROM sequences_enrollment e JOIN contacts_contact c ON c.id = e.contact_id"
            + " WHERE e.id = ANY(%s::bigint[]) AND e.lease_owner = %s ORDER BY e.id FOR UPDATE OF e",
            [array_literal(list(ids))[0], lease_owner],
        )
        found = cursor.fetchall()
    db = connections[connection.alias]
    rows = []
    for values in found:
        e = enrollment.build(values[:width], db)
        attach(e, "contact", contact.build(values[width:], db))
        rows.append(e)
    return rows
