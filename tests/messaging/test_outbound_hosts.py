"""Mailbox SMTP/IMAP hosts and the SMS gateway follow the outbound rule: no private,
loopback, link-local or metadata address unless the operator allows the host; and
"Send test" shows what went wrong as a category, never the remote server's own words."""
import socketserver
import threading

import pytest

from messaging.models import Mailbox, MessageState
from messaging.services import crypto
from messaging.services.delivery import deliver_due, message_enqueue
from messaging.services.imap import imap_poll
from tests.factories import ContactFactory, MailboxFactory

from .conftest import make_message
from .test_imap import FakeImap
from .test_settings_views import VALID
from .test_sms import FakeTwilio, _sms_message

pytestmark = pytest.mark.django_db

PRIVATE_HOSTS = ["127.0.0.1", "localhost", "10.0.0.5", "169.254.169.254", "::1", "fd00:ec2::254"]
REFUSAL = "private network; ask your operator to allow it"


@pytest.mark.parametrize("field", ["smtp_host", "imap_host"])
@pytest.mark.parametrize("host", PRIVATE_HOSTS)
def test_a_private_mailbox_host_is_refused_inline_when_saving(admin_client_, tenant, field, host):
    response = admin_client_.post("/settings/mailboxes/new/", {**VALID, "imap_enabled": "on",
                                                               "imap_host": "imap.scendly.example", field: host})
    assert response.status_code == 422
    assert REFUSAL in response.content.decode()
    assert not Mailbox.objects.exists()


def _closed(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []  # after the fake server's fixture allowed it


@pytest.mark.parametrize("backend", [
    "messaging.services.transport.GuardedSmtpBackend",
    "django.core.mail.backends.smtp.EmailBackend",  # as configurations written before the guard name it
])
def test_send_test_to_a_private_host_is_refused_without_connecting(admin_client_, mailbox, smtp_server, settings,
                                                                   backend):
    _closed(settings)
    settings.MESSAGING_EMAIL_BACKEND = backend
    response = admin_client_.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert REFUSAL in response.content.decode()
    assert smtp_server.connections == 0


def test_delivery_to_a_private_host_is_refused_without_connecting(tenant, sequence, smtp_server, settings):
    message = message_enqueue(message=make_message(tenant=tenant, sequence=sequence, state=MessageState.APPROVED))
    _closed(settings)

    deliver_due()

    message.refresh_from_db()
    assert message.state == MessageState.QUEUED and REFUSAL in message.error
    assert smtp_server.connections == 0 and smtp_server.messages == []


def test_imap_polling_of_a_private_host_is_refused_without_logging_in(tenant, settings):
    server = FakeImap({})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.OUTBOUND_ALLOWED_HOSTS = []
        mailbox = Mailbox.objects.create(
            tenant=tenant, name="Replies", from_name="Sam", from_email="sam@scendly.example", imap_enabled=True,
            imap_host="127.0.0.1", imap_port=server.server_address[1], imap_use_ssl=False, imap_username="sam",
            imap_password_encrypted=crypto.encrypt("imap-pass"),
        )
        with pytest.raises(Exception, match=REFUSAL):
            imap_poll(tenant_id=tenant.pk, mailbox_id=mailbox.pk)
        assert server.logins == []
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def gateway(settings):
    with FakeTwilio() as fake:
        settings.SMS_BACKEND, settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN = "twilio", "AC1", "tok3n"
        settings.SMS_FROM, settings.SMS_API_BASE = "+14155550000", fake.base
        yield fake


def test_the_sms_gateway_follows_the_same_rule(tenant, gateway, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    message = _sms_message(tenant, ContactFactory(tenant=tenant, phone="+14155550177"))

    deliver_due()

    message.refresh_from_db()
    assert message.state != MessageState.SENT and REFUSAL in message.error
    assert gateway.requests == []


def test_the_sms_gateway_client_does_not_follow_redirects(tenant, gateway, settings, loopback_allowed):
    internal = FakeTwilio()
    with internal:
        gateway.status = 302
        gateway.location = f"{internal.base}/internal"
        message = _sms_message(tenant, ContactFactory(tenant=tenant, phone="+14155550178"))

        deliver_due()

        message.refresh_from_db()
        assert message.state != MessageState.SENT and "redirect" in message.error
        assert internal.requests == []


class _NotSmtp(socketserver.ThreadingTCPServer):
    """A service on the operator's network that is not an SMTP server: its banner must
    never reach the tenant."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"-ERR redis 7.2.4 requirepass vault-token-1f9e\r\n")

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def not_smtp(loopback_allowed):
    server = _NotSmtp()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _send_test(client, mailbox):
    response = client.post(f"/settings/mailboxes/{mailbox.pk}/test/", HTTP_HX_REQUEST="true")
    return response.status_code, response.content.decode()


def test_send_test_errors_are_categories_without_the_remote_servers_words(
        admin_client_, admin, tenant, auth_smtp_server, not_smtp):
    mailbox = MailboxFactory(tenant=tenant, smtp_host="127.0.0.1", smtp_port=auth_smtp_server.port,
                             smtp_username="sam", smtp_password_encrypted=crypto.encrypt("pw"))

    auth_smtp_server.reject(admin.email, "550 5.7.1 Relaying denied by relay-internal-7c2d")
    status, body = _send_test(admin_client_, mailbox)
    assert status == 422 and "The server refused the recipient address" in body
    assert "relay-internal-7c2d" not in body and "550" not in body

    auth_smtp_server.refuse_logins("535 5.7.8 bad credentials for ldap-internal-41aa")
    status, body = _send_test(admin_client_, mailbox)
    assert status == 422 and "The server refused the login" in body
    assert "ldap-internal-41aa" not in body

    Mailbox.objects.filter(pk=mailbox.pk).update(smtp_port=not_smtp)
    status, body = _send_test(admin_client_, Mailbox.objects.get(pk=mailbox.pk))
    assert status == 422 and "did not answer like an SMTP server" in body
    assert "vault-token-1f9e" not in body and "redis" not in body
