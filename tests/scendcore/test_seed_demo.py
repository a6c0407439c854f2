from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from contacts import demo as contacts_demo
from contacts.models import Contact, ContactList, ListMembership
from scendcore.management.commands import seed_demo
from scendcore.models import Membership, Tenant


def _counts():
    return {
        "tenants": Tenant.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": Membership.objects.count(),
        "contacts": Contact.objects.count(),
        "lists": ContactList.objects.count(),
        "list members": ListMembership.objects.count(),
        "tags": Contact.tags.through.objects.count(),
    }


@pytest.fixture
def seeded(db, celery_eager):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_creates_the_demo_workspace_and_prints_the_logins(seeded):
    acme = Tenant.objects.get(name="Acme Outbound")
    assert acme.default_timezone == "America/New_York" and acme.postal_address
    roles = dict(Membership.objects.filter(tenant=acme).values_list("user__username", "role"))
    assert roles == {"demo-rep": "rep", "demo-manager": "manager", "demo-admin": "admin"}
    for username in roles:
        assert username in seeded
    assert seed_demo.DEMO_PASSWORD in seeded
    assert get_user_model().objects.get(username="demo-rep").check_password(seed_demo.DEMO_PASSWORD)


def test_seed_demo_gives_acme_a_few_hundred_varied_contacts_and_two_lists(seeded):
    acme = Tenant.objects.get(name="Acme Outbound")
    contacts = Contact.objects.filter(tenant=acme)
    assert contacts.count() == contacts_demo.DEFAULT_COUNT
    zones = set(contacts.values_list("timezone", flat=True))
    assert any(z.startswith("America/") for z in zones) and any(z.startswith("Europe/") for z in zones)
    assert set(contacts.values_list("owner__username", flat=True)) == {"demo-rep", "demo-manager"}
    assert contacts.values("company").distinct().count() > 20
    assert len(set(contacts.values_list("lead_status", flat=True))) == 5
    assert len(set(contacts.values_list("score_band", flat=True))) == 3
    assert contacts.filter(custom_fields__has_key="industry").count() == contacts.count()
    assert contacts.filter(tags__isnull=False).distinct().count() > 50
    lists = ContactList.objects.filter(tenant=acme)
    assert lists.count() == 2
    assert all(lst.contacts.count() > 10 for lst in lists)


def test_seed_demo_is_idempotent(seeded):
    before = _counts()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == before


def test_the_demo_contacts_are_the_same_every_time():
    assert contacts_demo.demo_people(seed="acme") == contacts_demo.demo_people(seed="acme")
    emails = [p["email"] for p in contacts_demo.demo_people()]
    assert len(emails) == len(set(emails)) == contacts_demo.DEFAULT_COUNT


def test_a_second_tenant_lets_the_demo_admin_switch_workspaces(seeded, client):
    globex = Tenant.objects.get(name="Globex Demo")
    assert Membership.objects.filter(tenant=globex, user__username="globex-admin", role="admin").exists()
    assert Contact.objects.filter(tenant=globex).exists()
    client.post(reverse("login"), {"username": "demo-admin", "password": seed_demo.DEMO_PASSWORD})
    assert client.post(reverse("tenant-switch"), {"tenant_id": globex.pk}).status_code == 302
    assert client.get(reverse("dashboard")).context["current_tenant"] == globex
    # The Globex admin is not a member of Acme and cannot switch there.
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": "globex-admin", "password": seed_demo.DEMO_PASSWORD})
    acme = Tenant.objects.get(name="Acme Outbound")
    assert client.post(reverse("tenant-switch"), {"tenant_id": acme.pk}).status_code == 404


def test_missing_demo_modules_are_skipped_and_present_ones_run_in_order():
    names = ["contacts.demo", "no_such_app.demo", "agents.demo"]
    found = list(seed_demo.demo_seeders(names))
    assert [name for name, _ in found] == names
    assert found[1][1] is None
    assert found[0][1] is contacts_demo.seed
