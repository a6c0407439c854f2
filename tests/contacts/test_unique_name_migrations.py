"""The data migrations rename existing duplicate list and sequence names before the constraints land."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

CASES = [
    ("contacts", "ContactList", "0008_suppressed_event", "0009_unique_list_names_per_tenant"),
    ("sequences", "Sequence", "0008_sequence_test_mode", "0009_unique_sequence_names_per_tenant"),
]


def _state(executor, app, migration):
    """Every app at its latest migration, `app` at `migration`."""
    leaves = [node for node in executor.loader.graph.leaf_nodes() if node[0] != app]
    return leaves + [(app, migration)]


@pytest.mark.parametrize("app, model, before, after", CASES)
@pytest.mark.django_db(transaction=True)
def test_later_duplicates_get_a_number_and_another_workspace_keeps_its_name(app, model, before, after):
    executor = MigrationExecutor(connection)
    BEFORE, AFTER = _state(executor, app, before), _state(executor, app, after)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        Tenant, Model = old.get_model("scendcore", "Tenant"), old.get_model(app, model)
        tenant = Tenant.objects.create(name="Acme", slug=f"acme-{app}-names")
        other = Tenant.objects.create(name="Other", slug=f"other-{app}-names")
        first = Model.objects.create(tenant=tenant, name="Warm")
        second = Model.objects.create(tenant=tenant, name="warm")
        third = Model.objects.create(tenant=tenant, name="Warm")
        taken = Model.objects.create(tenant=tenant, name="Warm (2)")
        theirs = Model.objects.create(tenant=other, name="Warm")

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)

        Migrated = executor.loader.project_state(AFTER).apps.get_model(app, model)
        names = dict(Migrated.objects.filter(pk__in=[first.pk, second.pk, third.pk, taken.pk, theirs.pk])
                     .values_list("pk", "name"))
        assert names == {first.pk: "Warm", second.pk: "warm (3)", third.pk: "Warm (4)", taken.pk: "Warm (2)",
                         theirs.pk: "Warm"}
    finally:
        # Every app back at its latest: `after` is not the latest once the app has later migrations.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
