"""Contact search: every word of the query must appear in name, email or company.

On PostgreSQL the expression below has a trigram GIN index (migration
0004_contact_search_trigram) so `LIKE '%word%'` stays an index scan at 100k contacts.
SQLite evaluates the same expression unindexed. The SQL is written out (not built from
Concat) so that the query's expression is character for character the index's.
"""
from django.db.models import TextField
from django.db.models.expressions import RawSQL

SEARCH_SQL = (
    "lower(contacts_contact.first_name || ' ' || contacts_contact.last_name || ' ' || "
    "contacts_contact.email || ' ' || contacts_contact.company)"
)


def apply_search(queryset, query):
    words = [w for w in (query or "").lower().split() if w][:6]
    if not words:
        return queryset
    queryset = queryset.alias(_search=RawSQL(SEARCH_SQL, [], output_field=TextField()))
    for word in words:
        queryset = queryset.filter(_search__contains=word)
    return queryset
