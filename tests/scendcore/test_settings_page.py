from datetime import time

import pytest
from django.urls import reverse

from scendcore.models import AuditEntry

VALID = {
    "name": "Acme Outbound Europe",
    "default_timezone": "Europe/Berlin",
    "postal_address": "Acme GmbH, Torstraße 1, 10119 Berlin",
    "frequency_cap_messages": "2",
    "frequency_cap_hours": "72",
    "send_window_enabled": "on",
    "default_window_days": ["0", "1", "2", "3"],
    "default_window_start": "08:30",
    "default_window_end": "16:00",
    "tracking_enabled": "",
    "allowed_link_domains": "https://www.acme.example/pricing\ncalendly.com\n",
    "reps_can_approve": "on",
}


def test_an_admin_sees_the_settings_form_with_links_to_agents_and_mailboxes(admin_client_, tenant):
    response = admin_client_.get(reverse("tenant-settings"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/settings/agents/"' in html and 'href="/settings/mailboxes/"' in html
    assert response.context["form"].initial["name"] == tenant.name


def test_an_admin_saves_the_settings_and_the_change_is_audited(admin_client_, admin, tenant):
    response = admin_client_.post(reverse("tenant-settings"), VALID)
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.name == "Acme Outbound Europe"
    assert tenant.default_timezone == "Europe/Berlin"
    assert (tenant.frequency_cap_messages, tenant.frequency_cap_hours) == (2, 72)
    assert tenant.send_window_enabled and tenant.default_window_days == [0, 1, 2, 3]
    assert (tenant.default_window_start, tenant.default_window_end) == (time(8, 30), time(16, 0))
    assert tenant.tracking_enabled is False and tenant.reps_can_approve is True
    assert tenant.allowed_link_domains == "acme.example\ncalendly.com"

    entry = AuditEntry.objects.get(tenant=tenant, object_type="tenant")
    assert entry.actor == admin and entry.action == "settings_updated"
    assert entry.changes["name"] == ["Acme Outbound", "Acme Outbound Europe"]
    assert entry.changes["default_window_start"] == ["09:00:00", "08:30:00"]
    assert "inbound_secret" not in entry.changes

    page = admin_client_.get(reverse("tenant-settings"))
    assert "Settings saved." in page.content.decode()


def test_saving_unchanged_settings_writes_no_audit_entry(admin_client_, tenant):
    data = {**VALID}
    admin_client_.post(reverse("tenant-settings"), data)
    admin_client_.post(reverse("tenant-settings"), data)
    assert AuditEntry.objects.filter(tenant=tenant, object_type="tenant").count() == 1


@pytest.mark.parametrize("change, field", [
    ({"default_window_end": "08:00"}, "default_window_end"),
    ({"default_timezone": "Mars/Olympus_Mons"}, "default_timezone"),
    ({"postal_address": "  "}, "postal_address"),
    ({"allowed_link_domains": "acme.example\nnot a domain"}, "allowed_link_domains"),
    ({"default_window_days": []}, "default_window_days"),
    ({"frequency_cap_hours": "0"}, "frequency_cap_hours"),
])
def test_invalid_settings_are_shown_inline_with_status_422_and_nothing_changes(admin_client_, tenant, change, field):
    response = admin_client_.post(reverse("tenant-settings"), {**VALID, **change})
    assert response.status_code == 422
    assert field in response.context["form"].errors
    assert 'class="errorlist"' in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.name == "Acme Outbound"
    assert not AuditEntry.objects.filter(tenant=tenant).exists()


def test_an_htmx_post_with_errors_gets_only_the_form_back(admin_client_, tenant):
    response = admin_client_.post(
        reverse("tenant-settings"), {**VALID, "default_window_end": "07:00"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="settings-form"')
    assert "<html" not in html


def test_an_htmx_post_that_saves_reloads_the_page(admin_client_, tenant):
    response = admin_client_.post(reverse("tenant-settings"), VALID, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("tenant-settings")


def test_a_rep_gets_403_on_the_admin_only_settings_and_has_no_settings_link(rep_client, tenant):
    refused = rep_client.get(reverse("tenant-settings"))
    assert refused.status_code == 403
    assert "Your role in this workspace does not include it" in refused.content.decode()
    assert rep_client.post(reverse("tenant-settings"), VALID).status_code == 403
    tenant.refresh_from_db()
    assert tenant.name == "Acme Outbound"
    assert 'href="/settings/"' not in rep_client.get(reverse("dashboard")).content.decode()


def test_a_manager_sees_the_settings_links_but_cannot_change_the_workspace(manager_client, tenant):
    page = manager_client.get(reverse("tenant-settings"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/settings/agents/"' in html and 'id="settings-form"' not in html
    assert manager_client.post(reverse("tenant-settings"), VALID).status_code == 403
    tenant.refresh_from_db()
    assert tenant.name == "Acme Outbound"


def test_an_admin_of_another_tenant_changes_only_their_own_tenant(outsider_client, other_tenant, tenant):
    outsider_client.post(reverse("tenant-settings"), VALID)
    tenant.refresh_from_db()
    other_tenant.refresh_from_db()
    assert tenant.name == "Acme Outbound"
    assert other_tenant.name == "Acme Outbound Europe"
