"""Hostile inbound mail: characters PostgreSQL text cannot hold, and messages that fail
processing for a reason nobody foresaw. Neither may lose the reply, answer 500 or stall
IMAP polling; what cannot be processed waits in the quarantine for a person."""
from email.utils import make_msgid

import pytest
from django.utils import timezone

from messaging.models import InboundMessage, InboundQuarantine, MessageState
from messaging.services import inbound
from messaging.services.imap import imap_poll
from sequences.models import Enrollment
from tests.factories import EnrollmentFactory, SequenceFactory

from .conftest import make_message
from .test_imap import imap_mailbox  # noqa: F401 - the fixture
from .test_inbound import post, reply_mime

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(tenant):
    sequence = SequenceFactory(tenant=tenant, stop_on_reply=True, status="active")
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence)
    message = make_message(
        tenant=tenant, enrollment=enrollment, state=MessageState.SENT,
        message_id=make_msgid(domain="scendly.example"), sent_at=timezone.now(),
    )
    return message, enrollment


def nul_reply(message, *, subject=None):
    """A real reply whose quoted-printable body carries an encoded NUL (=00), the way
    some mail clients quote a pasted binary fragment."""
    return (
        f"From: Pat <{message.contact.email}>\r\n"
        "To: sam@scendly.example\r\n"
        f"Subject: {subject or 'Re: ' + message.subject}\r\n"
        f"Message-ID: {make_msgid(domain='acme.example')}\r\n"
        f"In-Reply-To: {message.message_id}\r\n"
        f"References: {message.message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "Yes, let's talk on Tuesday.=00 Call me at 10.\r\n"
        "=E2=80=94 Pat\r\n"
    ).encode()


def test_a_reply_with_an_encoded_nul_is_recorded_and_stops_the_sequence(client, tenant, sent):
    message, enrollment = sent

    response = post(client, tenant, nul_reply(message))

    assert response.status_code == 201, response.content
    assert response.json()["classification"] == "reply"
    item = InboundMessage.objects.get(tenant=tenant)
    assert "\x00" not in item.body_text and "\x00" not in item.raw
    assert "let's talk on Tuesday.\ufffd Call me at 10." in item.body_text
    enrollment.refresh_from_db()
    assert enrollment.status == "paused" and enrollment.pause_reason == "replied"


def test_nuls_and_undecodable_bytes_in_headers_are_replaced_too(client, tenant, sent):
    message, enrollment = sent
    raw = nul_reply(message, subject="=?utf-8?q?Re=3A_Quick=00question?=")
    # A raw NUL and a byte that is not UTF-8 in a header: the parser keeps them as they come.
    raw = raw.replace(b"From: Pat", b"From: P\x00at \xff")

    response = post(client, tenant, raw)

    assert response.status_code == 201, response.content
    item = InboundMessage.objects.get(tenant=tenant)
    assert item.subject == "Re: Quick\ufffdquestion"
    assert "\x00" not in item.from_address and item.contact == message.contact
    enrollment.refresh_from_db()
    assert enrollment.status == "paused"


def test_imap_polling_records_a_reply_with_an_encoded_nul_and_moves_on(tenant, sent, imap_mailbox):  # noqa: F811
    message, enrollment = sent
    other = make_message(tenant=tenant, state=MessageState.SENT, message_id="<other@scendly.example>",
                         sent_at=timezone.now(), key="other")
    mailbox, _ = imap_mailbox({5: nul_reply(message), 6: reply_mime(other)})

    counts = imap_poll(tenant_id=tenant.pk, mailbox_id=mailbox.pk)

    assert counts["processed"] == 2
    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == 6
    assert set(InboundMessage.objects.values_list("matched_message", flat=True)) == {message.pk, other.pk}
    enrollment.refresh_from_db()
    assert enrollment.status == "paused" and enrollment.pause_reason == "replied"


# ------------------------------------------------------------------ quarantine


@pytest.fixture
def unforeseen_bug(monkeypatch):
    """A defect nobody has found yet, striking after the inbound row was written: the
    whole message must roll back and go to the quarantine, not half-recorded."""
    real = inbound._event

    def broken(*args, **kwargs):
        raise RuntimeError("classifier exploded on this message")

    monkeypatch.setattr(inbound, "_event", broken)
    return lambda: monkeypatch.setattr(inbound, "_event", real)


def test_a_message_that_fails_processing_is_quarantined_not_a_500(client, tenant, sent, unforeseen_bug):
    message, enrollment = sent
    raw = nul_reply(message)

    response = post(client, tenant, raw)

    assert response.status_code == 202
    assert response.json()["quarantined"] is True
    held = InboundQuarantine.objects.get(tenant=tenant)
    assert bytes(held.raw) == raw
    assert held.status == "held" and held.source == "webhook"
    assert "RuntimeError: classifier exploded on this message" in held.error
    assert held.from_address == message.contact.email
    assert not InboundMessage.objects.exists()  # the half-written row rolled back

    # The provider delivers the same message again: it is held once, not twice.
    assert post(client, tenant, raw).status_code == 202
    assert InboundQuarantine.objects.count() == 1


def test_imap_polling_quarantines_a_failing_message_and_advances_past_it(tenant, sent, imap_mailbox,  # noqa: F811
                                                                         unforeseen_bug, monkeypatch):
    message, _ = sent
    mailbox, _ = imap_mailbox({5: nul_reply(message), 6: b"garbage without headers"})

    counts = imap_poll(tenant_id=tenant.pk, mailbox_id=mailbox.pk)

    assert counts["quarantined"] == 1 and counts["malformed"] == 1
    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == 6
    held = InboundQuarantine.objects.get(tenant=tenant)
    assert held.source == "imap" and held.mailbox == mailbox
    # The next poll starts after it: the mailbox is not stuck on the bad message.
    assert imap_poll(tenant_id=tenant.pk, mailbox_id=mailbox.pk)["quarantined"] == 0
    assert InboundQuarantine.objects.count() == 1


def _held(tenant, sent, client, unforeseen_bug):
    message, enrollment = sent
    post(client, tenant, nul_reply(message))
    unforeseen_bug()  # the defect is fixed and deployed
    return InboundQuarantine.objects.get(tenant=tenant)


def test_managers_see_the_quarantine_with_the_error(client, tenant, sent, manager, unforeseen_bug):
    held = _held(tenant, sent, client, unforeseen_bug)
    client.force_login(manager)

    response = client.get("/inbound/quarantine/")

    assert response.status_code == 200
    assert b"classifier exploded on this message" in response.content
    assert f"/inbound/quarantine/{held.pk}/retry/".encode() in response.content


def test_retrying_a_held_message_records_the_reply_and_pauses_the_enrollment(client, tenant, sent, manager,
                                                                             unforeseen_bug):
    held = _held(tenant, sent, client, unforeseen_bug)
    client.force_login(manager)

    response = client.post(f"/inbound/quarantine/{held.pk}/retry/")

    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status == "released" and held.inbound.classification == "reply"
    enrollment = Enrollment.objects.get(pk=sent[1].pk)
    assert enrollment.status == "paused" and enrollment.pause_reason == "replied"


def test_a_retry_that_fails_again_keeps_the_message_held_with_the_new_error(client, tenant, sent, manager,
                                                                            unforeseen_bug, monkeypatch):
    held = _held(tenant, sent, client, unforeseen_bug)
    client.force_login(manager)
    monkeypatch.setattr(inbound, "is_auto_reply", lambda message: 1 / 0)

    client.post(f"/inbound/quarantine/{held.pk}/retry/")

    held.refresh_from_db()
    assert held.status == "held" and held.attempts == 2
    assert "ZeroDivisionError" in held.error


def test_discarding_drops_the_stored_message(client, tenant, sent, manager, unforeseen_bug):
    held = _held(tenant, sent, client, unforeseen_bug)
    client.force_login(manager)

    assert client.post(f"/inbound/quarantine/{held.pk}/discard/").status_code == 302

    held.refresh_from_db()
    assert held.status == "discarded" and bytes(held.raw) == b""
    assert not InboundMessage.objects.exists()


def test_reps_may_not_see_or_act_on_the_quarantine(client, tenant, sent, rep, unforeseen_bug):
    held = _held(tenant, sent, client, unforeseen_bug)
    client.force_login(rep)

    assert client.get("/inbound/quarantine/").status_code == 403
    assert client.post(f"/inbound/quarantine/{held.pk}/retry/").status_code == 403
    held.refresh_from_db()
    assert held.status == "held"


def test_the_outsider_gets_404_for_our_held_message(client, tenant, sent, outsider, unforeseen_bug):
    held = _held(tenant, sent, client, unforeseen_bug)
    client.force_login(outsider)

    assert client.post(f"/inbound/quarantine/{held.pk}/retry/").status_code == 404
    assert client.post(f"/inbound/quarantine/{held.pk}/discard/").status_code == 404
    assert b"classifier exploded" not in client.get("/inbound/quarantine/").content
    held.refresh_from_db()
    assert held.status == "held"
