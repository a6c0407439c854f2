"""Every model of the project's apps is in the Django admin, its list shows the tenant
and can be filtered and searched."""
import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory

PROJECT_APPS = ["scendcore", "contacts", "sequences", "agents", "approvals", "messaging"]
MODELS = [m for label in PROJECT_APPS for m in apps.get_app_config(label).get_models()]


@pytest.fixture
def superuser_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
def test_every_model_has_an_admin_with_the_tenant_in_its_list(model, rf):
    model_admin = admin.site._registry.get(model)
    assert model_admin is not None, f"{model._meta.label} is not registered in the admin"
    request = rf.get("/")
    request.user = UserFactory.build(is_staff=True, is_superuser=True)
    display = model_admin.get_list_display(request)
    if model._meta.label != "scendcore.Tenant":
        assert display[0] == "tenant_name"
        assert any(str(f).endswith("tenant") for f in model_admin.get_list_filter(request))
    assert model_admin.search_fields or model._meta.label == "contacts.ImportRejectedRow"


@pytest.mark.parametrize("model", MODELS, ids=[m._meta.label for m in MODELS])
def test_every_admin_changelist_and_add_page_load(model, superuser_client, tenant):
    info = (model._meta.app_label, model._meta.model_name)
    assert superuser_client.get(reverse("admin:%s_%s_changelist" % info), {"q": "acme"}).status_code == 200
    assert superuser_client.get(reverse("admin:%s_%s_add" % info)).status_code == 200


def test_the_mailbox_admin_never_shows_a_stored_password(superuser_client, tenant):
    from messaging.services import crypto
    from tests.factories import MailboxFactory

    mailbox = MailboxFactory(tenant=tenant, smtp_password_encrypted=crypto.encrypt("hunter2-secret"))
    html = superuser_client.get(reverse("admin:messaging_mailbox_change", args=[mailbox.pk])).content.decode()
    assert "hunter2-secret" not in html
    assert mailbox.smtp_password_encrypted not in html


def test_the_user_admin_shows_each_users_tenants_and_roles(superuser_client, rep):
    html = superuser_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "Acme Outbound (rep)" in html


def test_timestamps_are_read_only_in_the_admin(rf):
    from contacts.models import Contact

    request = rf.get("/")
    readonly = admin.site._registry[Contact].get_readonly_fields(request)
    assert {"created_at", "updated_at"} <= set(readonly)
