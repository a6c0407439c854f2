"""SMS: the Twilio-compatible backend against a local HTTP server, opt-outs."""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from contacts.models import ContactEvent
from messaging.models import MessageState
from messaging.services import sms
from messaging.services.delivery import deliver_due, message_enqueue
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db


class FakeTwilio:
    def __init__(self):
        self.requests = []
        self.status = 201
        self.location = None  # answer with a redirect there
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                      "form": {k: v[0] for k, v in parse_qs(body).items()}})
                payload = json.dumps({"sid": f"SM{len(fake.requests):032d}"} if fake.status < 300
                                     else {"message": "nope"}).encode()
                self.send_response(fake.status)
                if fake.location:
                    self.send_header("Location", fake.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def twilio(settings, loopback_allowed):
    with FakeTwilio() as fake:
        settings.SMS_BACKEND = "twilio"
        settings.SMS_ACCOUNT_SID = "AC123"
        settings.SMS_AUTH_TOKEN = "tok3n"
        settings.SMS_FROM = "+14155550000"
        settings.SMS_API_BASE = fake.base
        yield fake


def _sms_message(tenant, contact, **kwargs):
    enrollment = EnrollmentFactory(tenant=tenant, contact=contact, sequence=SequenceFactory(tenant=tenant))
    return message_enqueue(message=make_message(
        tenant=tenant, enrollment=enrollment, channel="sms", state=MessageState.APPROVED,
        body_text="Hi Pat, quick question about your outbound team?", **kwargs,
    ))


def test_the_twilio_backend_posts_form_fields_with_basic_auth(tenant, twilio):
    contact = ContactFactory(tenant=tenant, phone="+14155550123")
    message = _sms_message(tenant, contact)

    assert deliver_due()["sent"] == 1

    [request] = twilio.requests
    assert request["path"] == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request["form"] == {"To": "+14155550123", "From": "+14155550000",
                               "Body": "Hi Pat, quick question about your outbound team?"}
    assert base64.b64decode(request["auth"].split()[1]).decode() == "AC123:tok3n"
    message.refresh_from_db()
    assert message.state == MessageState.SENT and message.message_id.startswith("SM")


def test_a_provider_error_is_retried_or_failed_by_status(tenant, twilio):
    contact = ContactFactory(tenant=tenant, phone="+14155550124")
    message = _sms_message(tenant, contact)
    twilio.status = 503
    assert deliver_due()["retried"] == 1
    message.refresh_from_db()
    assert message.state == MessageState.QUEUED and "503" in message.error

    twilio.status = 400
    assert deliver_due(at=timezone.now() + timezone.timedelta(hours=1))["failed"] == 1
    message.refresh_from_db()
    assert message.state == MessageState.FAILED and "400" in message.error


def test_an_sms_to_an_opted_out_contact_is_cancelled_at_send_time(tenant, twilio):
    contact = ContactFactory(tenant=tenant, phone="+14155550125")
    message = _sms_message(tenant, contact)
    contact.sms_opted_out_at = timezone.now()
    contact.save()

    assert deliver_due()["cancelled"] == 1
    message.refresh_from_db()
    assert message.state == MessageState.CANCELLED
    assert twilio.requests == []


def test_the_console_backend_logs_and_returns_an_id(caplog):
    with caplog.at_level("INFO"):
        sid = sms.ConsoleSmsBackend().send(to="+14155550100", body="hello")
    assert sid.startswith("console-") and "hello" in caplog.text


@pytest.mark.parametrize("word", ["STOP", "stop", " Unsubscribe ", "CANCEL", "end", "QUIT"])
def test_an_inbound_stop_opts_the_contact_out_of_sms(client, tenant, word):
    contact = ContactFactory(tenant=tenant, phone="+14155550126")

    response = client.post(f"/hooks/sms/{tenant.slug}/", {"From": "+1 (415) 555-0126", "Body": word},
                           HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret)

    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is not None
    assert ContactEvent.objects.filter(contact=contact, kind="sms_opt_out").count() == 1


def test_another_inbound_sms_is_a_reply(client, tenant):
    contact = ContactFactory(tenant=tenant, phone="+14155550127")
    enrollment = EnrollmentFactory(tenant=tenant, contact=contact,
                                   sequence=SequenceFactory(tenant=tenant, stop_on_reply=True))

    client.post(f"/hooks/sms/{tenant.slug}/", {"From": "+14155550127", "Body": "Sure, call me"},
                HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret)

    contact.refresh_from_db(); enrollment.refresh_from_db()
    assert contact.sms_opted_out_at is None and contact.last_replied_at is not None
    assert enrollment.status == "paused"


def test_the_sms_hook_refuses_a_bad_secret_and_unknown_numbers(client, tenant, other_tenant):
    contact = ContactFactory(tenant=tenant, phone="+14155550128")
    url = f"/hooks/sms/{tenant.slug}/"

    assert client.post(url, {"From": contact.phone, "Body": "STOP"},
                       HTTP_X_SCENDCORE_SECRET=other_tenant.inbound_secret).status_code == 403
    assert client.post(f"/hooks/sms/{other_tenant.slug}/", {"From": contact.phone, "Body": "STOP"},
                       HTTP_X_SCENDCORE_SECRET=other_tenant.inbound_secret).status_code == 422
    response = client.post(url, {"Body": "STOP"}, HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret)
    assert response.status_code == 422 and "From" in response.json()["errors"]
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is None


def test_the_sms_hook_refuses_an_oversized_body_and_survives_a_bogus_length(client, tenant):
    url, secret = f"/hooks/sms/{tenant.slug}/", {"HTTP_X_SCENDCORE_SECRET": tenant.inbound_secret}
    big = client.post(url, {"From": "+14155550199", "Body": "x" * (70 * 1024)}, **secret)
    assert big.status_code == 413 and big.json()["error"] == "Payload too large (limit 64 KB)."
    # A Content-Length that is not a number is the client's mistake, not a server error.
    bogus = client.post(url, {"From": "+14155550199", "Body": "hi"}, CONTENT_LENGTH="abc", **secret)
    assert bogus.status_code == 422
