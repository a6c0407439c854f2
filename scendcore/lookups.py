"""`field__any=[…]`: membership in a list, sent as one array parameter on PostgreSQL.

`field__in=[…]` with 500 values builds, sends and parses 500 placeholders; the
processor filters by whole batches (ids, idempotency keys) several times per batch, and
that string work showed up in its profile. `= ANY(%s)` hands PostgreSQL one array
instead and plans the same. Other databases get the ordinary IN.
"""
from django.core.exceptions import EmptyResultSet, FieldError
from django.db.models import Field, ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In


def array_literal(values):
    """(literal, cast) for a list of ints ('{1,2,3}', 'bigint[]') or of strings
    ('{"a","b"}', 'text[]'), else None. Sent as one text parameter with that cast, a
    thousand ids cost a fifth of what psycopg's list adapter spends dumping them one
    element at a time. (text, not the column's varchar(n): an explicit cast to
    varchar(n) would silently cut longer values.)"""
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}", "bigint[]"
    if all(type(v) is str for v in values):
        quoted = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
        return "{" + ",".join(quoted) + "}", "text[]"
    return None


INTEGER_FIELDS = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField",
})
TEXT_FIELDS = frozenset({"CharField", "TextField", "SlugField", "EmailField"})


def _plain(field, values):
    """`values` without None when preparing each one would hand it back unchanged: plain
    ints for an integer column, plain strings for a text one (a batch's ids and keys).
    Django otherwise prepares and normalizes a thousand values one by one, twice."""
    if not isinstance(values, (list, tuple)):
        return None
    try:
        target = field.target_field  # a foreign key compares as the field it points at
    except (AttributeError, FieldError):  # not a relation, or one of several columns
        target = field
    kind = target.get_internal_type()
    values = [v for v in values if v is not None]
    if kind in INTEGER_FIELDS and all(type(v) is int for v in values):
        return values
    if kind in TEXT_FIELDS and all(type(v) is str for v in values):
        return values
    return None


class _ArrayParameter:
    lookup_name = "any"

    def get_prep_lookup(self):
        plain = _plain(self.lhs.output_field, self.rhs) if hasattr(self.lhs, "output_field") else None
        return plain if plain is not None else super().get_prep_lookup()

    def as_postgresql(self, compiler, connection):
        if self.rhs_is_direct_value():
            field = self.lhs.output_field
            values = _plain(field, self.rhs)
            if values is None:
                values = [field.get_db_prep_value(v, connection, prepared=True) for v in self.rhs if v is not None]
            if not values:
                raise EmptyResultSet
            lhs, lhs_params = self.process_lhs(compiler, connection)
            literal = array_literal(values)
            if literal is not None:
                return f"{lhs} = ANY(%s::{literal[1]})", (*lhs_params, literal[0])
            return f"{lhs} = ANY(%s)", (*lhs_params, values)
        return super().as_sql(compiler, connection)


@Field.register_lookup
class AnyOf(_ArrayParameter, In):
    pass


@ForeignObject.register_lookup
class RelatedAnyOf(_ArrayParameter, RelatedIn):
    pass


MAX_ID = 2**63 - 1


def as_id(value):
    """A posted or queried object id as an int, or None. `str.isdigit()` is true for
    digits such as "²" that int() refuses, and ids outside a bigint name no row."""
    text = str(value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def as_ids(values):
    """The valid ids among `values`, in order."""
    return [n for n in map(as_id, values) if n is not None]
