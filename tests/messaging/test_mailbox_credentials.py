"""Mailbox passwords are secrets the tenant enters: write-only, stored encrypted, with an
explicit way to remove them. A tenant can never make "Send test", delivery or IMAP log in
with a server environment variable."""
import json

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict

from messaging.models import Mailbox
from messaging.services import crypto
from scendcore.models import AuditEntry
from tests.factories import MailboxFactory, UserFactory

from .test_settings_views import VALID

pytestmark = pytest.mark.django_db


def _form(server, **extra):
    return {**VALID, "smtp_host": "127.0.0.1", "smtp_port": str(server.port), "tls_mode": "none",
            "smtp_username": "sam", "smtp_password": "", **extra}


def test_send_test_never_logs_in_with_a_server_environment_variable(
        admin_client_, tenant, auth_smtp_server, server_secret):
    response = admin_client_.post("/settings/mailboxes/new/", _form(auth_smtp_server,
                                                                   smtp_password_env="EMAIL_HOST_PASSWORD"))
    assert response.status_code == 302
    mailbox = Mailbox.objects.get(tenant=tenant)

    admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")

    assert auth_smtp_server.connections >= 1, "the test reached the tenant's SMTP server"
    assert not any(server_secret in password for _, password in auth_smtp_server.logins)


def test_a_mailbox_naming_a_variable_before_gets_a_truthful_error_and_no_login(
        admin_client_, tenant, auth_smtp_server, server_secret):
    mailbox = MailboxFactory(tenant=tenant, smtp_host="127.0.0.1", smtp_port=auth_smtp_server.port,
                             smtp_username="sam", smtp_password_env="EMAIL_HOST_PASSWORD")

    response = admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    assert "not made available to workspaces" in response.content.decode()
    assert auth_smtp_server.logins == []
    page = admin_client_.get(f"/settings/mailboxes/{mailbox.pk}/").content.decode()
    assert "EMAIL_HOST_PASSWORD" in page and "not made available to workspaces" in page


def test_the_entered_password_is_the_one_used_to_log_in(admin_client_, tenant, auth_smtp_server):
    admin_client_.post("/settings/mailboxes/new/", _form(auth_smtp_server, smtp_password="s3cret-pass"))
    mailbox = Mailbox.objects.get(tenant=tenant)

    response = admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert auth_smtp_server.logins == [("sam", "s3cret-pass")]


@pytest.mark.parametrize("secret", ["smtp_password", "imap_password"])
def test_a_stored_password_can_be_removed_explicitly(admin_client_, tenant, auth_smtp_server, secret):
    admin_client_.post("/settings/mailboxes/new/", _form(auth_smtp_server, **{secret: "to-remove"}))
    mailbox = Mailbox.objects.get(tenant=tenant)
    assert getattr(mailbox, f"{secret}_encrypted")
    url = f"/settings/mailboxes/{mailbox.pk}/"

    both = admin_client_.post(url, _form(auth_smtp_server, **{secret: "new", f"clear_{secret}": "on"}))
    assert both.status_code == 422 and "Either type a new one or remove the stored one" in both.content.decode()

    assert admin_client_.post(url, _form(auth_smtp_server, **{f"clear_{secret}": "on"})).status_code == 302
    mailbox.refresh_from_db()
    assert getattr(mailbox, f"{secret}_encrypted") == ""
    entry = AuditEntry.objects.filter(object_type="mailbox", action="update").latest("id")
    assert secret in entry.changes["fields"] and "to-remove" not in json.dumps(entry.changes)


def test_the_outsider_cannot_remove_our_password(outsider_client, tenant):
    mailbox = MailboxFactory(tenant=tenant, smtp_password_encrypted=crypto.encrypt("ours"))
    response = outsider_client.post(f"/settings/mailboxes/{mailbox.pk}/", {**VALID, "clear_smtp_password": "on"})
    assert response.status_code == 404
    mailbox.refresh_from_db()
    assert crypto.smtp_password(mailbox) == "ours"


def _admin_form(rf, user, mailbox, **changes):
    request = rf.post("/")
    request.user = user
    form_class = admin.site._registry[Mailbox].get_form(request, mailbox, change=True)
    data = {k: v for k, v in model_to_dict(mailbox).items() if v is not None}
    data.update(tenant=mailbox.tenant_id)
    data.update(changes)
    return form_class(data, instance=mailbox)


def test_a_staff_user_cannot_name_an_environment_variable_in_the_django_admin(tenant, rf, server_secret):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["change_mailbox", "view_mailbox"]))
    mailbox = MailboxFactory(tenant=tenant, smtp_username="sam")

    form = _admin_form(rf, staff, mailbox, smtp_password_env="EMAIL_HOST_PASSWORD")
    if form.is_valid():
        form.save()

    mailbox.refresh_from_db()
    assert mailbox.smtp_password_env == ""
    assert server_secret not in repr(_password_or_error(mailbox))


def _password_or_error(mailbox):
    try:
        return crypto.smtp_password(mailbox)
    except crypto.SecretUnavailable as exc:
        return str(exc)


def test_an_operator_may_give_a_mailbox_an_allow_listed_reserved_variable(tenant, rf, settings, monkeypatch,
                                                                          auth_smtp_server, admin_client_):
    settings.TENANT_SECRET_ENV_NAMES = ["SCENDCORE_TENANT_ACME_SMTP"]
    monkeypatch.setenv("SCENDCORE_TENANT_ACME_SMTP", "from-operator")
    mailbox = MailboxFactory(tenant=tenant, smtp_host="127.0.0.1", smtp_port=auth_smtp_server.port,
                             smtp_username="sam")
    operator = UserFactory(is_staff=True, is_superuser=True)

    refused = _admin_form(rf, operator, mailbox, smtp_password_env="EMAIL_HOST_PASSWORD")
    assert not refused.is_valid() and "smtp_password_env" in refused.errors
    allowed = _admin_form(rf, operator, mailbox, smtp_password_env="SCENDCORE_TENANT_ACME_SMTP")
    assert allowed.is_valid(), allowed.errors
    allowed.save()

    assert admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true").status_code == 200
    assert auth_smtp_server.logins == [("sam", "from-operator")]
