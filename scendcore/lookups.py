"""`field__any=[…]`: membership in a list, sent as one array parameter on PostgreSQL.

`field__in=[…]` with 500 values builds, sends and parses 500 placeholders; the
processor filters by whole batches (ids, idempotency keys) several times per batch, and
that string work showed up in its profile. `= ANY(%s)` hands PostgreSQL one array
instead and plans the same. Other databases get the ordinary IN.
"""
from django.core.exceptions import EmptyResultSet
from django.db.models import Field, ForeignObject
from django.db.models.fields.related_lookups import RelatedIn
from django.db.models.lookups import In


class _ArrayParameter:
    lookup_name = "any"

    def as_postgresql(self, compiler, connection):
        if self.rhs_is_direct_value():
            values = [v for v in self.rhs if v is not None]
            if not values:
                raise EmptyResultSet
            field = self.lhs.output_field
            values = [field.get_db_prep_value(v, connection, prepared=True) for v in values]
            lhs, lhs_params = self.process_lhs(compiler, connection)
            return f"{lhs} = ANY(%s)", (*lhs_params, values)
        return super().as_sql(compiler, connection)


@Field.register_lookup
class AnyOf(_ArrayParameter, In):
    pass


@ForeignObject.register_lookup
class RelatedAnyOf(_ArrayParameter, RelatedIn):
    pass
