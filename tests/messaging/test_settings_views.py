"""Mailbox and pool settings pages, the outbound message pages, and secrets at rest."""
import pytest
from django.test import override_settings

from messaging.models import Mailbox, MailboxPool, MessageState, OutboundMessage, PoolMember
from messaging.services import crypto
from scendcore.models import AuditEntry
from tests.factories import MailboxFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Sales team", "from_name": "Sam Seller", "from_email": "sam@scendly.example", "reply_to": "",
    "signature": "Sam", "status": "active", "smtp_host": "smtp.scendly.example", "smtp_port": "587",
    "smtp_username": "sam", "smtp_password": "s3cret-pass", "tls_mode": "starttls",
    "daily_cap": "200", "hourly_cap": "50", "min_gap_seconds": "0", "gap_jitter_seconds": "0",
    "domain_daily_max": "0", "warmup_start_cap": "5", "warmup_daily_increase": "5", "warmup_target_cap": "200",
    "warmup_start_date": "", "imap_host": "", "imap_port": "993", "imap_username": "", "imap_password": "",
}


def test_an_admin_creates_a_mailbox_and_the_password_is_stored_encrypted(admin_client_, tenant):
    response = admin_client_.post("/settings/mailboxes/new/", VALID)

    mailbox = Mailbox.objects.get(tenant=tenant)
    assert response.status_code == 302 and response["Location"] == f"/settings/mailboxes/{mailbox.pk}/"
    assert "s3cret-pass" not in mailbox.smtp_password_encrypted
    assert crypto.smtp_password(mailbox) == "s3cret-pass"
    audit = AuditEntry.objects.get(object_type="mailbox", object_id=str(mailbox.pk))
    assert "s3cret" not in str(audit.changes) and "smtp_password" in audit.changes["fields"]


def test_the_password_is_never_shown_back_and_empty_means_unchanged(admin_client_, tenant):
    admin_client_.post("/settings/mailboxes/new/", VALID)
    mailbox = Mailbox.objects.get(tenant=tenant)

    page = admin_client_.get(f"/settings/mailboxes/{mailbox.pk}/").content.decode()
    assert "s3cret-pass" not in page and mailbox.smtp_password_encrypted not in page
    assert "A password is stored" in page

    admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/", {**VALID, "smtp_password": "", "daily_cap": "100"})
    mailbox.refresh_from_db()
    assert mailbox.daily_cap == 100 and crypto.smtp_password(mailbox) == "s3cret-pass"


def test_an_invalid_mailbox_form_is_rerendered_with_422(admin_client_, tenant):
    response = admin_client_.post("/settings/mailboxes/new/", {**VALID, "from_email": "nope", "hourly_cap": "500"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "Enter a valid email address" in body and "cannot be above the daily cap" in body
    assert not Mailbox.objects.exists()


def test_a_password_can_come_from_an_operator_listed_variable_only(tenant, monkeypatch, settings):
    mailbox = MailboxFactory(tenant=tenant, smtp_password_env="SCENDCORE_TENANT_SALES_SMTP")
    monkeypatch.setenv("SCENDCORE_TENANT_SALES_SMTP", "from-env")
    with pytest.raises(crypto.SecretUnavailable, match="not made available to workspaces"):
        crypto.smtp_password(mailbox)
    settings.TENANT_SECRET_ENV_NAMES = ["SCENDCORE_TENANT_SALES_SMTP"]
    assert crypto.smtp_password(mailbox) == "from-env"
    monkeypatch.delenv("SCENDCORE_TENANT_SALES_SMTP")
    with pytest.raises(crypto.SecretUnavailable, match="is not set"):
        crypto.smtp_password(mailbox)


def test_a_configured_encryption_key_is_used_and_a_wrong_key_cannot_decrypt(settings):
    settings.FIELD_ENCRYPTION_KEY = "first-key-passphrase"
    token = crypto.encrypt("hunter2")
    assert crypto.decrypt(token) == "hunter2"
    settings.FIELD_ENCRYPTION_KEY = ""
    with pytest.raises(crypto.SecretUnavailable):
        crypto.decrypt(token)


def test_managers_may_view_but_not_change_mailboxes(manager_client, tenant):
    mailbox = MailboxFactory(tenant=tenant, name="Viewable")
    assert "Viewable" in manager_client.get("/settings/mailboxes/").content.decode()
    page = manager_client.get(f"/settings/mailboxes/{mailbox.pk}/")
    assert page.status_code == 200 and "disabled" in page.content.decode()
    assert manager_client.post(f"/settings/mailboxes/{mailbox.pk}/", VALID).status_code == 403
    assert manager_client.get("/settings/mailboxes/new/").status_code == 403
    assert manager_client.post(f"/settings/mailboxes/{mailbox.pk}/test/").status_code == 403
    mailbox.refresh_from_db()
    assert mailbox.name == "Viewable"


def test_reps_cannot_see_mailbox_settings(rep_client):
    assert rep_client.get("/settings/mailboxes/").status_code == 403


def test_send_test_email_goes_through_the_mailboxs_smtp_and_reports_success(admin_client_, admin, mailbox, smtp_server):
    response = admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert f"Test email sent to {admin.email}" in response.content.decode()
    [received] = smtp_server.messages
    assert received["To"] == admin.email and received["From"] == "Sam Seller <sam@scendly.example>"


def test_send_test_email_shows_what_went_wrong_inline(admin_client_, mailbox, smtp_server, admin):
    smtp_server.reject(admin.email, "550 5.7.1 Relaying denied")
    response = admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "could not be sent: The server refused the recipient address." in response.content.decode()


def test_send_test_email_without_javascript_renders_the_page(admin_client_, mailbox, smtp_server):
    response = admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/")
    assert response.status_code == 200 and "<html" in response.content.decode()
    assert "Test email sent" in response.content.decode()


def test_an_admin_creates_and_edits_a_weighted_pool(admin_client_, tenant, other_tenant):
    a, b = MailboxFactory(tenant=tenant), MailboxFactory(tenant=tenant)
    foreign = MailboxFactory(tenant=other_tenant)

    response = admin_client_.post("/settings/pools/new/", {"name": "Rotation", f"weight_{a.pk}": "2",
                                                            f"weight_{b.pk}": "1", f"weight_{foreign.pk}": "5"})

    assert response.status_code == 302
    pool = MailboxPool.objects.get(tenant=tenant)
    assert {m.mailbox_id: m.weight for m in PoolMember.objects.filter(pool=pool)} == {a.pk: 2, b.pk: 1}
    admin_client_.post(f"/settings/pools/{pool.pk}/", {"name": "Rotation", f"weight_{a.pk}": "0", f"weight_{b.pk}": "3"})
    assert {m.mailbox_id: m.weight for m in PoolMember.objects.filter(pool=pool)} == {b.pk: 3}
    empty = admin_client_.post(f"/settings/pools/{pool.pk}/", {"name": "Rotation"})
    assert empty.status_code == 422


def test_the_outsider_gets_404_for_our_mailboxes_pools_and_messages(outsider_client, tenant):
    mailbox = MailboxFactory(tenant=tenant, name="Ours")
    pool = MailboxPool.objects.create(tenant=tenant, name="Our pool")
    message = make_message(tenant=tenant, state=MessageState.FAILED)
    urls = [
        f"/settings/mailboxes/{mailbox.pk}/", f"/settings/mailboxes/{mailbox.pk}/test/",
        f"/settings/pools/{pool.pk}/", f"/messages/{message.pk}/", f"/messages/{message.pk}/resend/",
    ]
    for url in urls:
        assert outsider_client.get(url).status_code in (404, 405), url
        assert outsider_client.post(url, VALID).status_code == 404, url
    assert "Ours" not in outsider_client.get("/settings/mailboxes/").content.decode()
    assert "Our pool" not in outsider_client.get("/settings/mailboxes/").content.decode()
    message.refresh_from_db(); mailbox.refresh_from_db()
    assert message.state == MessageState.FAILED and mailbox.name == "Ours"


def test_the_message_list_and_detail_show_state_headers_and_an_unknown_banner(manager_client, tenant):
    message = make_message(tenant=tenant, state=MessageState.UNKNOWN, subject="Hello <b>there</b>",
                           body_text="<script>alert(1)</script>", message_id="<abc@scendly.example>",
                           error="Outcome unknown: interrupted")

    listing = manager_client.get("/messages/?state=unknown").content.decode()
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in listing
    detail = manager_client.get(f"/messages/{message.pk}/").content.decode()
    assert "Outcome unknown." in detail and "&lt;abc@scendly.example&gt;" in detail
    assert "<script>alert(1)</script>" not in detail and "&lt;script&gt;" in detail
    assert "Resend" in detail


def test_resend_is_a_manual_decision_for_unknown_or_failed_only(manager_client, tenant, django_capture_on_commit_callbacks):
    unknown = make_message(tenant=tenant, state=MessageState.UNKNOWN, key="u")
    sent = make_message(tenant=tenant, state=MessageState.SENT, key="s")
    assert "Resend" not in manager_client.get(f"/messages/{sent.pk}/").content.decode()

    with override_settings(MESSAGING_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        manager_client.post(f"/messages/{unknown.pk}/resend/")
        manager_client.post(f"/messages/{sent.pk}/resend/")

    unknown.refresh_from_db(); sent.refresh_from_db()
    assert unknown.state == MessageState.QUEUED and sent.state == MessageState.SENT
    assert AuditEntry.objects.filter(object_type="outbound_message", action="resend").count() == 1
    assert OutboundMessage.objects.filter(state=MessageState.QUEUED).count() == 1


def test_the_shared_factories_build_messaging_objects_inside_one_tenant(tenant):
    from tests.factories import MailboxPoolFactory, OutboundMessageFactory, TaskFactory

    message = OutboundMessageFactory(tenant=tenant)
    task = TaskFactory(tenant=tenant)
    pool = MailboxPoolFactory(tenant=tenant)
    assert message.enrollment.tenant == message.contact.tenant == tenant
    assert task.contact.tenant == pool.tenant == tenant


def test_the_message_list_does_not_query_per_message(manager_client, tenant, mailbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries():
        with CaptureQueriesContext(connection) as captured:
            page = manager_client.get("/messages/")
            assert page.status_code == 200
        return len(captured), page.content.decode()

    make_message(tenant=tenant, mailbox=mailbox, key="first")
    one, _ = queries()
    for n in range(3):
        make_message(tenant=tenant, mailbox=mailbox, key=f"more-{n}", state=MessageState.FAILED)
    count, listing = queries()
    assert count == one
    assert 'badge-failed">3</span>' in listing  # the state filter shows each state's count


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_outside_1_to_65535_is_refused_inline_with_422(admin_client_, tenant, port):
    response = admin_client_.post("/settings/mailboxes/new/", {**VALID, "smtp_port": port, "imap_port": port})

    assert response.status_code == 422
    body = response.content.decode()
    assert body.count("A port is a number from 1 to 65535.") == 2  # SMTP and IMAP, each next to its field
    assert not Mailbox.objects.exists()
