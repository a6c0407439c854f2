from django.urls import reverse

from scendcore.models import Role
from tests.factories import MembershipFactory, TenantFactory


def test_a_member_of_two_tenants_switches_between_them(client, rep, other_tenant):
    MembershipFactory(user=rep, tenant=other_tenant, role=Role.MANAGER)
    client.force_login(rep)
    assert client.get(reverse("dashboard")).context["current_tenant"].name == "Acme Outbound"

    response = client.post(reverse("tenant-switch"), {"tenant_id": other_tenant.pk})
    assert response.status_code == 302
    page = client.get(reverse("dashboard"))
    assert page.context["current_tenant"] == other_tenant
    assert page.context["current_membership"].role == Role.MANAGER


def test_a_user_cannot_switch_to_a_tenant_they_are_not_a_member_of(client, rep, other_tenant):
    client.force_login(rep)
    response = client.post(reverse("tenant-switch"), {"tenant_id": other_tenant.pk})
    assert response.status_code == 404
    assert client.get(reverse("dashboard")).context["current_tenant"].name == "Acme Outbound"


def test_switching_to_a_tenant_that_does_not_exist_is_the_same_404(client, rep):
    client.force_login(rep)
    assert client.post(reverse("tenant-switch"), {"tenant_id": 987654}).status_code == 404
    assert client.post(reverse("tenant-switch"), {"tenant_id": "junk"}).status_code == 404


def test_switching_needs_a_post(rep_client, tenant):
    assert rep_client.get(reverse("tenant-switch")).status_code == 405


def test_a_session_pointing_at_a_lost_membership_falls_back_to_a_remaining_one(client, rep, tenant):
    extra = TenantFactory(name="Zeta Corp")
    membership = MembershipFactory(user=rep, tenant=extra)
    client.force_login(rep)
    client.post(reverse("tenant-switch"), {"tenant_id": extra.pk})
    membership.delete()
    assert client.get(reverse("dashboard")).context["current_tenant"] == tenant


def test_a_logged_in_user_without_any_membership_is_refused(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory())
    assert client.get(reverse("dashboard")).status_code == 403


def test_the_tenant_menu_lists_only_the_users_own_tenants(client, rep, other_tenant):
    second = TenantFactory(name="Beta Labs")
    MembershipFactory(user=rep, tenant=second)
    client.force_login(rep)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Beta Labs" in html and "Acme Outbound" in html
    assert other_tenant.name not in html
