"""Spam complaints (ARF reports to the inbound hook, ESP complaint events) and the
mailbox circuit breaker on complaint and bounce rates."""
import base64
import json
from datetime import timedelta
from email.utils import make_msgid

import pytest
from django.utils import timezone

from contacts.models import ContactEvent, Suppression
from contacts.suppression import address_hash, suppression_reason
from messaging.models import Mailbox, MessageState, SendRecord
from messaging.services.delivery import deliver_due
from sequences.models import Enrollment
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory

from .conftest import make_message
from .test_inbound import dsn_mime, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(tenant, mailbox):
    sequence = SequenceFactory(tenant=tenant, sender_profile=mailbox, status="active")
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence)
    message = make_message(tenant=tenant, enrollment=enrollment, state=MessageState.SENT, mailbox=mailbox,
                           message_id=make_msgid(domain="scendly.example"), sent_at=timezone.now())
    pending = make_message(tenant=tenant, enrollment=enrollment, state=MessageState.QUEUED, key="pending")
    return message, enrollment, pending


def arf(*, recipient="", original_id="", feedback_type="abuse", headers_only=False):
    """A feedback report as mailbox providers' feedback loops send it (RFC 5965)."""
    original = (
        "From: Sam Seller <sam@scendly.example>\r\n"
        + (f"To: {recipient}\r\n" if recipient else "To: redacted@example.invalid\r\n")
        + "Subject: Quick question\r\n"
        + (f"Message-ID: {original_id}\r\n" if original_id else "")
        + "\r\n"
    )
    return (
        "From: Feedback Loop <fbl@mail-provider.example>\r\n"
        "To: abuse@scendly.example\r\n"
        "Subject: Complaint about a message you sent\r\n"
        f"Message-ID: {make_msgid(domain='mail-provider.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"\r\n'
        "\r\n"
        "--ARF\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "This is an email abuse report for an email message received from IP 192.0.2.1.\r\n"
        "--ARF\r\n"
        "Content-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback_type}\r\n"
        "User-Agent: ProviderFBL/1.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <bounces@scendly.example>\r\n"
        + (f"Original-Rcpt-To: <{recipient}>\r\n" if recipient else "")
        + "\r\n"
        "--ARF\r\n"
        + ("Content-Type: text/rfc822-headers\r\n\r\n" if headers_only else "Content-Type: message/rfc822\r\n\r\n")
        + original
        + ("" if headers_only else "Hi Pat,\r\n")
        + "--ARF--\r\n"
    ).encode()


def assert_complaint_took_effect(tenant, message, enrollment, pending):
    enrollment.refresh_from_db(); pending.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("unenrolled", "spam complaint")
    assert pending.state == MessageState.CANCELLED
    entry = Suppression.objects.get(tenant=tenant, address_hash=address_hash(message.contact.email))
    assert entry.reason == "complaint"
    assert suppression_reason(message.contact) == "complained"
    event = ContactEvent.objects.get(contact=message.contact, kind="complained")
    assert event.message == message


# ------------------------------------------------------------------ ARF


def test_an_arf_report_suppresses_the_address_and_stops_its_sequences(client, tenant, sent):
    message, enrollment, pending = sent

    response = post(client, tenant, arf(original_id=message.message_id))

    assert response.status_code == 201, response.content
    assert response.json()["classification"] == "complaint"
    assert_complaint_took_effect(tenant, message, enrollment, pending)


def test_an_arf_report_without_the_original_message_id_is_attributed_by_its_recipient(client, tenant, sent):
    message, enrollment, pending = sent

    response = post(client, tenant, arf(recipient=message.contact.email.upper(), headers_only=True))

    assert response.status_code == 201, response.content
    assert_complaint_took_effect(tenant, message, enrollment, pending)


def test_the_same_report_delivered_twice_counts_once(client, tenant, sent):
    message, _, _ = sent
    raw = arf(original_id=message.message_id)
    post(client, tenant, raw)
    assert post(client, tenant, raw).json()["duplicate"] is True
    assert ContactEvent.objects.filter(kind="complained").count() == 1


def test_a_not_spam_report_is_recorded_and_changes_nothing(client, tenant, sent):
    message, enrollment, _ = sent

    response = post(client, tenant, arf(original_id=message.message_id, feedback_type="not-spam"))

    assert response.status_code == 201 and response.json()["classification"] == "feedback"
    enrollment.refresh_from_db()
    assert enrollment.status == "active" and not Suppression.objects.exists()


def test_an_arf_report_for_another_tenants_message_touches_nothing_of_ours(client, tenant, other_tenant, sent):
    message, enrollment, _ = sent

    post(client, other_tenant, arf(original_id=message.message_id, recipient=message.contact.email))

    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert not Suppression.objects.filter(tenant=tenant).exists()
    assert not ContactEvent.objects.filter(kind="complained").exists()


# ------------------------------------------------------------------ ESP events


def esp(client, tenant, payload, secret=None):
    return client.post(f"/hooks/esp/{tenant.slug}/", data=json.dumps(payload), content_type="application/json",
                       HTTP_X_SCENDCORE_SECRET=secret or tenant.inbound_secret)


def _complaints(message):
    address, bare_id = message.contact.email, message.message_id.strip("<>")
    ses = {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": address}]},
           "mail": {"messageId": "0100018f-ses-id", "commonHeaders": {"messageId": message.message_id}}}
    return {
        "sendgrid": [{"email": address, "event": "spamreport", "smtp-id": message.message_id, "timestamp": 1}],
        "mailgun": {"signature": {}, "event-data": {"event": "complained", "recipient": address,
                                                    "message": {"headers": {"message-id": bare_id}}}},
        "ses-via-sns": {"Type": "Notification", "MessageId": "sns-1", "Message": json.dumps(ses)},
        "postmark": {"RecordType": "SpamComplaint", "Email": address, "MessageID": "pm-own-id"},
    }


@pytest.mark.parametrize("shape", ["sendgrid", "mailgun", "ses-via-sns", "postmark"])
def test_an_esp_complaint_event_suppresses_the_address_and_stops_its_sequences(client, tenant, sent, shape):
    message, enrollment, pending = sent

    response = esp(client, tenant, _complaints(message)[shape])

    assert response.status_code == 200, response.content
    assert response.json()["complaints"] == 1
    assert_complaint_took_effect(tenant, message, enrollment, pending)


def _bounces(message):
    address = message.contact.email
    ses = {"notificationType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                    "bouncedRecipients": [{"emailAddress": address}]},
           "mail": {"commonHeaders": {"messageId": message.message_id}}}
    return {
        "sendgrid": [{"email": address, "event": "bounce", "type": "bounce", "smtp-id": message.message_id}],
        "mailgun": {"event-data": {"event": "failed", "severity": "permanent", "recipient": address}},
        "ses-via-sns": {"Type": "Notification", "Message": json.dumps(ses)},
        "postmark": {"RecordType": "Bounce", "Type": "HardBounce", "Email": address},
    }


@pytest.mark.parametrize("shape", ["sendgrid", "mailgun", "ses-via-sns", "postmark"])
def test_an_esp_hard_bounce_event_marks_the_contact_bounced(client, tenant, sent, shape):
    message, enrollment, _ = sent

    response = esp(client, tenant, _bounces(message)[shape])

    assert response.status_code == 200 and response.json()["hard_bounces"] == 1
    message.contact.refresh_from_db(); enrollment.refresh_from_db()
    assert message.contact.bounced_at is not None
    assert (enrollment.status, enrollment.exit_reason) == ("unenrolled", "bounced")
    assert Suppression.objects.get(tenant=tenant).reason == "hard_bounce"


def test_events_that_are_neither_are_counted_as_ignored(client, tenant, sent):
    message, enrollment, _ = sent
    response = esp(client, tenant, [{"email": message.contact.email, "event": "open"},
                                    {"email": message.contact.email, "event": "bounce", "type": "blocked"}])
    assert response.status_code == 200 and response.json() == {"ok": True, "complaints": 0, "hard_bounces": 0,
                                                                "ignored": 2}
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


@pytest.mark.parametrize("body, status", [
    (b"{nope", 400), (b"[" * 100_000 + b"]" * 100_000, 400), (b'{"hello": "world"}', 422), (b'"text"', 422),
    (b'[{"event": "spamreport"}]', 422), (b'{"RecordType": "SpamComplaint", "Email": "not-an-address"}', 422),
])
def test_bad_esp_payloads_get_a_clear_4xx(client, tenant, sent, body, status):
    response = client.post(f"/hooks/esp/{tenant.slug}/", data=body, content_type="application/json",
                           HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret)
    assert response.status_code == status
    assert response.json()["errors"]
    assert not Suppression.objects.exists()


def test_the_esp_hook_needs_the_tenants_secret(client, tenant, other_tenant, sent):
    message, enrollment, _ = sent
    payload = _complaints(message)["postmark"]
    assert esp(client, tenant, payload, secret="wrong").status_code == 403
    assert esp(client, tenant, payload, secret=other_tenant.inbound_secret).status_code == 403
    basic = base64.b64encode(f"sns:{tenant.inbound_secret}".encode()).decode()
    assert client.post(f"/hooks/esp/{tenant.slug}/", data=json.dumps(payload), content_type="application/json",
                       HTTP_AUTHORIZATION=f"Basic {basic}").status_code == 200


def test_the_outsiders_hook_records_only_in_the_outsiders_workspace(client, tenant, other_tenant, sent):
    message, enrollment, _ = sent
    theirs = ContactFactory(tenant=other_tenant, email=message.contact.email)

    assert esp(client, other_tenant, _complaints(message)["sendgrid"]).status_code == 200

    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert not Suppression.objects.filter(tenant=tenant).exists()
    assert suppression_reason(theirs) == "complained"


# ------------------------------------------------------------------ circuit breaker


@pytest.fixture
def history(tenant, mailbox):
    """400 sends of the mailbox over the last hours (the limiter's own records), within its caps."""
    Mailbox.objects.filter(pk=mailbox.pk).update(daily_cap=1000, hourly_cap=1000)
    now = timezone.now()
    SendRecord.objects.bulk_create([
        SendRecord(tenant=tenant, mailbox=mailbox, recipient_domain="acme.example", sent_at=now - timedelta(minutes=i))
        for i in range(1, 401)
    ])


def _sent_to_new_contact(tenant, mailbox):
    contact = ContactFactory(tenant=tenant)
    return make_message(tenant=tenant, contact=contact, state=MessageState.SENT, mailbox=mailbox,
                        message_id=make_msgid(domain="scendly.example"), sent_at=timezone.now())


@pytest.fixture
def system_mail(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp_server


def test_complaints_over_the_limit_pause_the_mailbox_and_tell_its_admins(
    client, tenant, mailbox, history, admin, manager, system_mail, django_capture_on_commit_callbacks, celery_eager
):
    first, second = _sent_to_new_contact(tenant, mailbox), _sent_to_new_contact(tenant, mailbox)

    post(client, tenant, arf(original_id=first.message_id))  # 1 in 400: 0.25 %, under 0.3 %
    mailbox.refresh_from_db()
    assert mailbox.status == "active"
    with django_capture_on_commit_callbacks(execute=True):
        post(client, tenant, arf(original_id=second.message_id))  # 2 in 400: 0.5 %

    mailbox.refresh_from_db()
    assert mailbox.status == "paused" and mailbox.paused_at is not None
    assert "complaint rate 0.50 % over the last 400 sends" in mailbox.pause_reason
    mails = [m for m in system_mail.messages if admin.email in m["To"]]
    assert len(mails) == 1 and mailbox.from_email in mails[0]["Subject"]
    assert "complaint rate 0.50 %" in mails[0].get_body().get_content()
    assert not [m for m in system_mail.messages if manager.email in m["To"]]  # admins only
    client.force_login(admin)
    banner = client.get("/").content.decode()
    assert "Sending paused" in banner and "complaint rate 0.50 %" in banner


def test_a_paused_mailbox_is_skipped_by_delivery_with_the_reason_then_resumed_by_an_admin(
    client, tenant, mailbox, history, admin, sequence, smtp_server
):
    for _ in range(2):
        post(client, tenant, arf(original_id=_sent_to_new_contact(tenant, mailbox).message_id))
    queued = make_message(tenant=tenant, sequence=sequence, state=MessageState.QUEUED, mailbox=mailbox, key="q")

    deliver_due()

    queued.refresh_from_db()
    assert queued.state == MessageState.QUEUED and smtp_server.messages == []
    assert "is paused: complaint rate 0.50 %" in queued.error
    client.force_login(admin)
    page = client.get(f"/settings/mailboxes/{mailbox.pk}/").content.decode()
    assert "complaint rate 0.50 %" in page and "Resume sending" in page

    assert client.post(f"/settings/mailboxes/{mailbox.pk}/resume/").status_code == 302

    mailbox.refresh_from_db()
    assert mailbox.status == "active" and mailbox.pause_reason == ""
    queued.next_attempt_at = timezone.now()
    queued.save(update_fields=["next_attempt_at"])
    deliver_due()
    queued.refresh_from_db()
    assert queued.state == MessageState.SENT
    # Counting starts again from the resume: the old complaints do not pause it again.
    post(client, tenant, arf(original_id=_sent_to_new_contact(tenant, mailbox).message_id))
    mailbox.refresh_from_db()
    assert mailbox.status == "active"


def test_fewer_sends_than_the_minimum_sample_never_pause(client, tenant, mailbox):
    SendRecord.objects.bulk_create([SendRecord(tenant=tenant, mailbox=mailbox, recipient_domain="a.example")
                                    for _ in range(50)])
    for _ in range(3):
        post(client, tenant, arf(original_id=_sent_to_new_contact(tenant, mailbox).message_id))
    mailbox.refresh_from_db()
    assert mailbox.status == "active"


def test_hard_bounces_over_the_tenants_limit_pause_the_mailbox(client, tenant, mailbox, history):
    tenant.bounce_rate_limit = 1
    tenant.save(update_fields=["bounce_rate_limit"])
    for _ in range(5):  # 5 in 400: 1.25 %
        post(client, tenant, dsn_mime(_sent_to_new_contact(tenant, mailbox)))
    mailbox.refresh_from_db()
    assert mailbox.status == "paused"
    assert "hard-bounce rate 1.25 % over the last 400 sends (limit 1.00 %)" in mailbox.pause_reason


def test_only_admins_resume_and_the_outsider_gets_404(client, tenant, mailbox, manager, outsider):
    Mailbox.objects.filter(pk=mailbox.pk).update(status="paused", pause_reason="complaint rate too high")
    client.force_login(manager)
    assert client.post(f"/settings/mailboxes/{mailbox.pk}/resume/").status_code == 403
    client.force_login(outsider)
    assert client.post(f"/settings/mailboxes/{mailbox.pk}/resume/").status_code == 404
    mailbox.refresh_from_db()
    assert mailbox.status == "paused"
    assert "Sending paused" not in client.get("/").content.decode()


def test_an_admin_sets_the_breaker_thresholds_and_the_change_is_audited(client, tenant, admin, manager):
    from scendcore.models import AuditEntry

    client.force_login(manager)
    assert client.post("/settings/mailboxes/reputation/", {"complaint_rate_limit": "1"}).status_code == 403
    client.force_login(admin)
    assert "0.30" in client.get("/settings/mailboxes/").content.decode()  # the default, shown

    response = client.post("/settings/mailboxes/reputation/", {
        "reputation_window_sends": "1000", "reputation_min_sends": "300", "complaint_rate_limit": "0.1",
        "bounce_rate_limit": "2"})

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.reputation_window_sends, tenant.reputation_min_sends) == (1000, 300)
    assert (float(tenant.complaint_rate_limit), float(tenant.bounce_rate_limit)) == (0.1, 2.0)
    assert AuditEntry.objects.filter(tenant=tenant, object_type="tenant", action="reputation_settings_updated",
                                     actor=admin).exists()
    bad = client.post("/settings/mailboxes/reputation/", {
        "reputation_window_sends": "1000", "reputation_min_sends": "2000", "complaint_rate_limit": "150",
        "bounce_rate_limit": "2"})
    assert bad.status_code == 422
    body = bad.content.decode()
    assert "at most 100" in body and "cannot be above the window" in body


def test_a_nul_in_an_echoed_message_id_is_harmless(client, tenant, sent):
    message, enrollment, _ = sent
    payload = [{"email": message.contact.email, "event": "spamreport", "smtp-id": "<x\u0000y@scendly.example>"}]

    response = esp(client, tenant, payload)

    assert response.status_code == 200 and response.json()["complaints"] == 1
    enrollment.refresh_from_db()
    assert enrollment.exit_reason == "spam complaint"  # matched by the recipient instead


def test_an_overlong_recipient_in_an_esp_event_is_still_suppressed(client, tenant, sent):
    address = "a" * 300 + "@acme.example"

    response = esp(client, tenant, {"RecordType": "SpamComplaint", "Email": address})

    assert response.status_code == 200
    entry = Suppression.objects.get(tenant=tenant)
    assert entry.address == "" and entry.address_hash == address_hash(address)
