"""The data migration carries contacts flagged before the suppression list existed into it."""
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from contacts.suppression import address_hash

def _state(executor, contacts_migration):
    """Every app at its latest migration, contacts at `contacts_migration`."""
    leaves = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "contacts"]
    return leaves + [("contacts", contacts_migration)]


@pytest.mark.django_db(transaction=True)
def test_flagged_contacts_are_carried_into_the_list():
    executor = MigrationExecutor(connection)
    BEFORE = _state(executor, "0005_suppression_list")
    AFTER = _state(executor, "0006_carry_flagged_contacts_into_suppression_list")
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        Tenant, Contact = old.get_model("scendcore", "Tenant"), old.get_model("contacts", "Contact")
        tenant = Tenant.objects.create(name="Acme", slug="acme-migration")
        other = Tenant.objects.create(name="Other", slug="other-migration")
        now = timezone.now()
        Contact.objects.create(tenant=tenant, email="Unsub@Acme.example", unsubscribed_at=now, bounced_at=now)
        Contact.objects.create(tenant=tenant, email="bounce@acme.example", bounced_at=now)
        Contact.objects.create(tenant=tenant, email="dnc@acme.example", do_not_contact=True)
        Contact.objects.create(tenant=tenant, email="fine@acme.example")
        Contact.objects.create(tenant=other, email="dnc@acme.example")

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)

        Suppression = executor.loader.project_state(AFTER).apps.get_model("contacts", "Suppression")
        rows = set(Suppression.objects.values_list("tenant_id", "address", "address_hash", "reason"))
        assert rows == {
            (tenant.pk, "unsub@acme.example", address_hash("unsub@acme.example"), "unsubscribed"),
            (tenant.pk, "bounce@acme.example", address_hash("bounce@acme.example"), "hard_bounce"),
            (tenant.pk, "dnc@acme.example", address_hash("dnc@acme.example"), "manual"),
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
