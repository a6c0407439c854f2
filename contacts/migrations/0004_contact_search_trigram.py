from django.db import migrations

INDEX_NAME = "contact_search_trgm"
# Must stay identical to contacts.search.SEARCH_SQL (written out here: migrations are frozen).
SEARCH_SQL = (
    "lower(contacts_contact.first_name || ' ' || contacts_contact.last_name || ' ' || "
    "contacts_contact.email || ' ' || contacts_contact.company)"
)


def create_index(apps, schema_editor):
    # PostgreSQL only: SQLite (zero-config mode) searches the same expression unindexed.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON contacts_contact "
        f"USING gin (({SEARCH_SQL.replace('contacts_contact.', '')}) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_import_jobs")]

    operations = [migrations.RunPython(create_index, drop_index)]
