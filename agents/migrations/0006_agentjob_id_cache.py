from django.db import migrations

# The processor takes a thousand agent-job ids per batch (sequences.engine.writes.
# allocate_ids). With the identity's default cache of 1, each nextval went to the shared
# sequence; a cache of 1,000 serves a batch from the connection's own block. Ids stay
# unique; they may skip ahead and no longer follow creation order across connections.
FORWARD = "ALTER TABLE agents_agentjob ALTER COLUMN id SET CACHE 1000"
BACKWARD = "ALTER TABLE agents_agentjob ALTER COLUMN id SET CACHE 1"


def apply(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("agents", "0005_slimmer_write_path")]

    operations = [migrations.RunPython(apply(FORWARD), apply(BACKWARD))]
