"""Inbound mail (replies, out-of-office, DSN bounces) and the meetings webhook."""
import base64
import json
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.utils import timezone

from contacts.models import ContactEvent
from messaging.models import InboundMessage, MessageState
from messaging.services import inbound
from sequences.models import Enrollment
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(tenant):
    sequence = SequenceFactory(tenant=tenant, stop_on_reply=True, stop_on_meeting=True, status="active")
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence)
    message = make_message(
        tenant=tenant, enrollment=enrollment, state=MessageState.SENT,
        message_id=make_msgid(domain="scendly.example"), sent_at=timezone.now(),
    )
    pending = make_message(tenant=tenant, enrollment=enrollment, state=MessageState.QUEUED, key="pending")
    return message, enrollment, pending


def reply_mime(message, *, body="Sounds good, call me Tuesday.", subject=None, **headers):
    mail = EmailMessage()
    mail["From"] = f"Pat <{message.contact.email}>"
    mail["To"] = "sam@scendly.example"
    mail["Subject"] = subject or f"Re: {message.subject}"
    mail["Message-ID"] = make_msgid(domain="acme.example")
    mail["In-Reply-To"] = message.message_id
    mail["References"] = message.message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail.as_bytes()


def dsn_mime(message, *, status="5.1.1", action="failed"):
    """A bounce as MTAs send it (RFC 3464): multipart/report with a human part, the
    machine-readable delivery status and the original headers."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\r\n"
        "To: sam@scendly.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.acme.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r\n'
        "\r\n"
        "--BOUNDARY\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "Your message could not be delivered.\r\n"
        "--BOUNDARY\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {message.contact.email}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; {status.replace('.', '', 1)[:1]}50 {status} User unknown\r\n"
        "\r\n"
        "--BOUNDARY\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message.message_id}\r\n"
        f"Subject: {message.subject}\r\n"
        f"To: {message.contact.email}\r\n"
        "\r\n"
        "--BOUNDARY--\r\n"
    ).encode()


def post(client, tenant, raw, secret=None):
    return client.post(f"/hooks/inbound/{tenant.slug}/", data=raw, content_type="message/rfc822",
                       HTTP_X_SCENDCORE_SECRET=secret or tenant.inbound_secret)


def test_a_reply_is_recorded_and_pauses_a_stop_on_reply_sequence(client, tenant, sent):
    message, enrollment, pending = sent

    response = post(client, tenant, reply_mime(message))

    assert response.status_code == 201
    assert response.json()["classification"] == "reply"
    item = InboundMessage.objects.get(tenant=tenant)
    assert item.matched_message == message and item.contact == message.contact
    assert "call me Tuesday" in item.body_text
    event = ContactEvent.objects.get(contact=message.contact, kind="replied")
    assert event.message == message
    enrollment.refresh_from_db(); pending.refresh_from_db(); message.contact.refresh_from_db()
    assert enrollment.status == "paused" and enrollment.pause_reason == "replied"
    assert pending.state == MessageState.CANCELLED
    assert message.contact.last_replied_at is not None


def test_a_reply_without_references_matches_the_senders_recent_thread(client, tenant, sent):
    message, enrollment, _ = sent
    mail = EmailMessage()
    mail["From"] = message.contact.email.upper()
    mail["To"] = "sam@scendly.example"
    mail["Subject"] = "about your email"
    mail.set_content("Interested.")

    assert post(client, tenant, mail.as_bytes()).status_code == 201
    assert InboundMessage.objects.get(tenant=tenant).matched_message == message


@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"},
    {"X_Autoreply": "yes"},
    {"X_Autorespond": "1"},
    {"Precedence": "bulk"},
    {"subject": "Out of Office: back on Monday"},
    {"subject": "Automatic reply: Quick question"},
    {"subject": "Abwesenheitsnotiz: Urlaub"},
])
def test_an_out_of_office_is_recorded_but_does_not_stop_the_sequence(client, tenant, sent, headers):
    message, enrollment, pending = sent

    response = post(client, tenant, reply_mime(message, body="I am away until Monday.", **headers))

    assert response.status_code == 201 and response.json()["classification"] == "auto_reply"
    assert ContactEvent.objects.filter(contact=message.contact, kind="auto_reply").count() == 1
    assert not ContactEvent.objects.filter(kind="replied").exists()
    enrollment.refresh_from_db(); pending.refresh_from_db()
    assert enrollment.status == "active" and pending.state == MessageState.QUEUED


def test_auto_submitted_no_is_a_real_reply(client, tenant, sent):
    message, _, _ = sent
    response = post(client, tenant, reply_mime(message, Auto_Submitted="no"))
    assert response.json()["classification"] == "reply"


def test_a_hard_bounce_marks_the_contact_bounced_and_stops_outreach(client, tenant, sent):
    message, enrollment, pending = sent

    response = post(client, tenant, dsn_mime(message))

    assert response.status_code == 201 and response.json()["classification"] == "hard_bounce"
    message.refresh_from_db(); enrollment.refresh_from_db(); pending.refresh_from_db()
    contact = message.contact
    contact.refresh_from_db()
    assert message.state == MessageState.BOUNCED
    assert contact.bounced_at is not None
    event = ContactEvent.objects.get(contact=contact, kind="bounced")
    assert event.data["status"] == "5.1.1"
    assert enrollment.status == "unenrolled" and enrollment.exit_reason == "bounced"
    assert pending.state == MessageState.CANCELLED


def test_a_soft_bounce_is_only_recorded(client, tenant, sent):
    message, enrollment, _ = sent

    response = post(client, tenant, dsn_mime(message, status="4.2.2", action="delayed"))

    assert response.json()["classification"] == "soft_bounce"
    message.refresh_from_db(); enrollment.refresh_from_db(); message.contact.refresh_from_db()
    assert message.state == MessageState.SENT and enrollment.status == "active"
    assert message.contact.bounced_at is None
    assert ContactEvent.objects.filter(kind="soft_bounced").count() == 1


def test_the_same_message_delivered_twice_is_recorded_once(client, tenant, sent):
    message, _, _ = sent
    raw = reply_mime(message)
    assert post(client, tenant, raw).status_code == 201
    response = post(client, tenant, raw)
    assert response.status_code == 200 and response.json()["duplicate"] is True
    assert InboundMessage.objects.count() == 1


@pytest.mark.parametrize("raw", [b"", b"this is not an email at all", b"\xff\xfe\x00garbage\r\n\r\n"])
def test_malformed_mime_gets_a_400_and_writes_nothing(client, tenant, sent, raw):
    response = post(client, tenant, raw)
    assert response.status_code == 400 and "error" in response.json()
    assert not InboundMessage.objects.exists() and not ContactEvent.objects.exists()


def test_an_unknown_message_id_from_a_stranger_gets_a_422(client, tenant, sent):
    mail = EmailMessage()
    mail["From"] = "stranger@nowhere.example"
    mail["To"] = "sam@scendly.example"
    mail["Subject"] = "Re: hello"
    mail["In-Reply-To"] = "<not-ours@elsewhere.example>"
    mail.set_content("hi")

    response = post(client, tenant, mail.as_bytes())

    assert response.status_code == 422
    assert not InboundMessage.objects.exists()


def test_a_bad_or_missing_secret_is_refused(client, tenant, other_tenant, sent):
    message, enrollment, _ = sent
    raw = reply_mime(message)

    assert post(client, tenant, raw, secret="wrong").status_code == 403
    assert client.post(f"/hooks/inbound/{tenant.slug}/", data=raw, content_type="message/rfc822").status_code == 403
    assert post(client, tenant, raw, secret=other_tenant.inbound_secret).status_code == 403
    assert client.post("/hooks/inbound/nope/", data=raw, content_type="message/rfc822",
                       HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret).status_code == 404
    assert not InboundMessage.objects.exists()
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


def test_the_outsider_with_its_own_secret_cannot_reach_our_messages(client, tenant, other_tenant, sent):
    message, enrollment, _ = sent

    response = post(client, other_tenant, reply_mime(message))

    assert response.status_code == 422
    assert not InboundMessage.objects.exists()
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


def test_http_basic_auth_carries_the_secret(client, tenant, sent):
    message, _, _ = sent
    credentials = base64.b64encode(f"inbound:{tenant.inbound_secret}".encode()).decode()
    response = client.post(f"/hooks/inbound/{tenant.slug}/", data=reply_mime(message), content_type="message/rfc822",
                           HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 201


def test_an_oversized_payload_gets_a_413(client, tenant, sent, monkeypatch):
    message, _, _ = sent
    monkeypatch.setattr(inbound, "MAX_RAW_BYTES", 1000)
    response = post(client, tenant, reply_mime(message, body="x" * 5000))
    assert response.status_code == 413
    assert not InboundMessage.objects.exists()


def test_the_default_size_limit_is_ten_megabytes(client, tenant, sent):
    message, _, _ = sent
    big = reply_mime(message, body="y" * (3 * 1024 * 1024))  # above Django's 2.5 MB default
    assert post(client, tenant, big).status_code == 201
    assert inbound.MAX_RAW_BYTES == 10 * 1024 * 1024


def test_a_get_on_the_hook_is_not_allowed(client, tenant):
    assert client.get(f"/hooks/inbound/{tenant.slug}/").status_code == 405


# ------------------------------------------------------------------ meetings


def meeting(client, tenant, payload, secret=None):
    return client.post(f"/hooks/meetings/{tenant.slug}/", data=json.dumps(payload) if not isinstance(payload, bytes) else payload,
                       content_type="application/json", HTTP_X_SCENDCORE_SECRET=secret or tenant.inbound_secret)


def test_a_booked_meeting_pauses_stop_on_meeting_sequences(client, tenant, sent):
    message, enrollment, _ = sent

    response = meeting(client, tenant, {"email": message.contact.email.upper(), "starts_at": "2030-01-31T15:00:00Z",
                                        "source": "calendly"})

    assert response.status_code == 201 and response.json()["enrollments_paused"] == 1
    enrollment.refresh_from_db(); message.contact.refresh_from_db()
    assert enrollment.status == "paused" and enrollment.pause_reason == "meeting booked"
    assert message.contact.last_meeting_at is not None
    event = ContactEvent.objects.get(kind="meeting_booked")
    assert event.data["source"] == "calendly" and event.data["starts_at"].startswith("2030-01-31T15:00")


@pytest.mark.parametrize("payload, field, status", [
    (b"{not json", "__all__", 400),
    ([1, 2], "__all__", 400),
    ({}, "email", 422),
    ({"email": "not-an-email"}, "email", 422),
    ({"email": "nobody@nowhere.example"}, "email", 422),
    ({"email": "PLACEHOLDER", "starts_at": "tomorrow"}, "starts_at", 422),
])
def test_meeting_webhook_errors_name_the_field(client, tenant, sent, payload, field, status):
    message, enrollment, _ = sent
    if isinstance(payload, dict) and payload.get("email") == "PLACEHOLDER":
        payload["email"] = message.contact.email

    response = meeting(client, tenant, payload)

    assert response.status_code == status
    assert field in response.json()["errors"]
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


def test_the_meeting_webhook_refuses_another_tenants_secret_and_contacts(client, tenant, other_tenant, sent):
    message, enrollment, _ = sent
    assert meeting(client, tenant, {"email": message.contact.email}, secret=other_tenant.inbound_secret).status_code == 403
    assert meeting(client, other_tenant, {"email": message.contact.email}).status_code == 422
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert not ContactEvent.objects.exists()


def test_an_unsubscribe_mail_to_the_mailto_address_unsubscribes(client, tenant, sent):
    message, enrollment, _ = sent
    response = post(client, tenant, reply_mime(message, subject="unsubscribe", body=""))
    assert response.status_code == 201
    message.contact.refresh_from_db()
    assert message.contact.unsubscribed_at is not None
    assert Enrollment.objects.get(pk=enrollment.pk).exit_reason == "unsubscribed"


def test_contacts_of_another_tenant_with_the_same_address_are_untouched(client, tenant, other_tenant, sent):
    message, _, _ = sent
    twin = ContactFactory(tenant=other_tenant, email=message.contact.email)
    post(client, tenant, dsn_mime(message))
    twin.refresh_from_db()
    assert twin.bounced_at is None


def test_an_empty_reference_matches_no_unsent_message(tenant, sent):
    # Messages get their Message-ID when they are sent; until then it is empty.
    message, enrollment, pending = sent
    assert pending.message_id == ""

    assert inbound.match_message(tenant=tenant, ids=[""], sender="") is None
    assert inbound.match_message(tenant=tenant, ids=["", message.message_id], sender="") == message


def _test_copy(message, rep_address="rita_rep@example.com"):
    """The same message as test mode sends it: to the rep, meant for the contact."""
    message.test_intended_to, message.to_address = message.contact.email, rep_address
    message.save(update_fields=["test_intended_to", "to_address"])
    return message


def test_the_reps_answer_to_a_test_copy_is_kept_but_tells_nothing_about_the_contact(client, tenant, sent):
    message, enrollment, pending = sent
    _test_copy(message)
    raw = reply_mime(message)

    response = post(client, tenant, raw.replace(message.contact.email.encode(), b"rita_rep@example.com"))

    assert response.status_code == 201
    item = InboundMessage.objects.get(tenant=tenant)
    assert item.matched_message == message and item.classification == "test_copy"
    assert not ContactEvent.objects.filter(contact=message.contact).exists()
    enrollment.refresh_from_db(); pending.refresh_from_db(); message.contact.refresh_from_db()
    assert enrollment.status == "active" and pending.state == MessageState.QUEUED
    assert message.contact.last_replied_at is None


def test_a_bounce_of_a_test_copy_does_not_mark_the_contact_bounced(client, tenant, sent):
    message, enrollment, _ = sent
    _test_copy(message)

    response = post(client, tenant, dsn_mime(message))

    assert response.status_code == 201
    assert InboundMessage.objects.get(tenant=tenant).classification == "test_copy"
    message.contact.refresh_from_db(); enrollment.refresh_from_db()
    assert message.contact.bounced_at is None and enrollment.status == "active"
    assert not ContactEvent.objects.filter(contact=message.contact).exists()
