"""Sending over real SMTP (an in-process aiosmtpd server)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from contacts.models import ContactEvent
from messaging.models import MessageState, OutboundMessage, SendRecord
from messaging.services import delivery
from messaging.services.delivery import deliver_due, message_enqueue
from sequences.models import Enrollment
from tests.factories import ContactFactory, EnrollmentFactory, StepFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db


def _queued(tenant, sequence, **kwargs):
    message = make_message(tenant=tenant, sequence=sequence, state=MessageState.APPROVED, **kwargs)
    return message_enqueue(message=message)


def test_a_sent_email_carries_unsubscribe_headers_a_message_id_and_the_footer(tenant, sequence, smtp_server):
    message = _queued(tenant, sequence)

    report = deliver_due()

    assert report["sent"] == 1
    message.refresh_from_db()
    assert message.state == MessageState.SENT
    assert message.message_id.endswith("@scendly.example>")
    [received] = smtp_server.messages
    assert received["Message-ID"] == message.message_id
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = received["List-Unsubscribe"]
    assert "<mailto:replies@scendly.example?subject=unsubscribe>" in unsubscribe
    assert "<http://127.0.0.1:8000/u/" in unsubscribe
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert tenant.postal_address in text and "Unsubscribe: http://127.0.0.1:8000/u/" in text
    assert tenant.postal_address in html and ">Unsubscribe</a>" in html
    assert received["From"] == "Sam Seller <sam@scendly.example>"
    assert received["Reply-To"] == "replies@scendly.example"
    assert message.contact.email in smtp_server.handler.envelopes[0].rcpt_tos
    message.contact.refresh_from_db()
    assert message.contact.last_contacted_at == message.sent_at


def test_a_follow_up_threads_under_the_first_email_with_a_re_subject(tenant, sequence, smtp_server, no_frequency_cap):
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence)
    first = _queued(tenant, sequence, enrollment=enrollment, subject="Scaling outbound at Acme")
    deliver_due()
    follow_step = StepFactory(sequence=sequence, job_type="follow_up")
    follow_up = _queued(tenant, sequence, enrollment=enrollment, step=follow_step, subject="")

    deliver_due()

    first.refresh_from_db(); follow_up.refresh_from_db()
    assert follow_up.state == MessageState.SENT
    second = smtp_server.messages[1]
    assert second["In-Reply-To"] == first.message_id
    assert second["References"] == first.message_id
    assert second["Subject"] == "Re: Scaling outbound at Acme"
    assert follow_up.thread_root_id == first.pk
    assert second["Message-ID"] != first.message_id


def test_one_smtp_connection_is_reused_for_a_batch_of_one_mailbox(tenant, sequence, smtp_server):
    for _ in range(3):
        _queued(tenant, sequence)

    report = deliver_due()

    assert report["sent"] == 3
    assert len(smtp_server.messages) == 3
    assert smtp_server.connections == 1


def test_a_temporary_recipient_failure_is_retried_with_backoff(tenant, sequence, smtp_server):
    message = _queued(tenant, sequence)
    smtp_server.reject(message.to_address, "451 4.7.1 Try again later")
    start = timezone.now()

    report = deliver_due(at=start)

    message.refresh_from_db()
    assert report["retried"] == 1
    assert message.state == MessageState.QUEUED
    assert message.attempts == 1
    assert message.next_attempt_at == start + delivery.BACKOFF_BASE
    assert "451" in message.error
    assert SendRecord.objects.count() == 0  # the slot was given back

    smtp_server.handler.rcpt_replies.clear()
    assert deliver_due(at=start + timedelta(seconds=30))["sent"] == 0  # not due yet
    assert deliver_due(at=start + timedelta(minutes=2))["sent"] == 1
    message.refresh_from_db()
    assert message.state == MessageState.SENT and message.attempts == 2


def test_retries_are_bounded(tenant, sequence, smtp_server):
    message = _queued(tenant, sequence)
    smtp_server.reject(message.to_address, "421 4.3.2 Service busy")
    at = timezone.now()
    for _ in range(delivery.MAX_ATTEMPTS):
        deliver_due(at=at)
        at += timedelta(days=1)

    message.refresh_from_db()
    assert message.state == MessageState.FAILED
    assert message.attempts == delivery.MAX_ATTEMPTS
    assert "Gave up" in message.error


def test_a_permanent_recipient_rejection_fails_the_message_and_bounces_the_contact(tenant, sequence, smtp_server):
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence)
    message = _queued(tenant, sequence, enrollment=enrollment)
    later = make_message(tenant=tenant, enrollment=enrollment, step=StepFactory(sequence=sequence),
                         state=MessageState.PENDING_APPROVAL)
    smtp_server.reject(message.to_address, "550 5.1.1 No such user")

    report = deliver_due()

    assert report["bounced"] == 1
    message.refresh_from_db(); later.refresh_from_db(); enrollment.refresh_from_db()
    contact = message.contact
    contact.refresh_from_db()
    assert message.state == MessageState.FAILED and "550" in message.error
    assert contact.bounced_at is not None
    assert ContactEvent.objects.filter(contact=contact, kind="bounced").count() == 1
    assert enrollment.status == "unenrolled" and enrollment.exit_reason == "bounced"
    assert later.state == MessageState.CANCELLED


def test_a_send_interrupted_after_handover_becomes_unknown_and_is_never_resent(tenant, sequence, smtp_server, monkeypatch):
    message = _queued(tenant, sequence)

    def worker_dies(*args, **kwargs):
        raise SystemExit("worker killed between handing over and recording")

    monkeypatch.setattr(delivery.run, "_record_sent", worker_dies)
    with pytest.raises(SystemExit):
        deliver_due()
    monkeypatch.undo()
    message.refresh_from_db()
    assert message.state == MessageState.SENDING
    assert len(smtp_server.messages) == 1

    deliver_due()  # within the lease: an in-flight send is left alone
    message.refresh_from_db()
    assert message.state == MessageState.SENDING

    report = deliver_due(at=timezone.now() + delivery.SENDING_LEASE + timedelta(seconds=1))
    message.refresh_from_db()
    assert report["unknown"] == 1
    assert message.state == MessageState.UNKNOWN
    assert "unknown" in message.error.lower()
    deliver_due(at=timezone.now() + timedelta(days=1))
    assert len(smtp_server.messages) == 1  # never resent automatically


@pytest.mark.parametrize("field, value, reason", [
    ("unsubscribed_at", timezone.now, "unsubscribed"),
    ("do_not_contact", lambda: True, "do-not-contact"),
    ("bounced_at", timezone.now, "bounced"),
])
def test_a_suppressed_contact_is_checked_again_at_send_time(tenant, sequence, smtp_server, field, value, reason):
    message = _queued(tenant, sequence)
    setattr(message.contact, field, value())
    message.contact.save()

    report = deliver_due()

    message.refresh_from_db()
    assert report["cancelled"] == 1
    assert message.state == MessageState.CANCELLED and reason in message.error
    assert smtp_server.messages == []


def test_the_tenant_frequency_cap_defers_a_second_message_to_the_same_contact(tenant, sequence, smtp_server):
    contact = ContactFactory(tenant=tenant)
    other_sequence_enrollment = EnrollmentFactory(tenant=tenant, contact=contact)
    first = _queued(tenant, sequence, contact=contact)
    at = timezone.now()
    deliver_due(at=at)
    first.refresh_from_db()
    second = _queued(tenant, None, enrollment=other_sequence_enrollment, mailbox=first.mailbox)

    report = deliver_due(at=at + timedelta(hours=1))

    second.refresh_from_db()
    assert report["deferred"] == 1
    assert second.state == MessageState.QUEUED
    assert second.next_attempt_at == first.sent_at + timedelta(hours=tenant.frequency_cap_hours)
    assert "frequency cap" in second.error
    assert deliver_due(at=second.next_attempt_at)["sent"] == 1


def test_a_full_mailbox_defers_to_its_next_slot(tenant, sequence, mailbox, smtp_server, no_frequency_cap):
    mailbox.hourly_cap = 1
    mailbox.save()
    first = _queued(tenant, sequence)
    second = _queued(tenant, sequence)
    at = timezone.now()

    report = deliver_due(at=at)

    first.refresh_from_db(); second.refresh_from_db()
    assert report["sent"] == 1 and report["deferred"] == 1
    assert second.state == MessageState.QUEUED
    assert second.next_attempt_at == at + timedelta(hours=1)


def test_resend_is_only_for_failed_or_unknown_messages(tenant, sequence, smtp_server, manager):
    from django.core.exceptions import ValidationError

    message = _queued(tenant, sequence)
    with pytest.raises(ValidationError):
        delivery.message_resend(tenant=tenant, message=message, actor=manager)
    OutboundMessage.objects.filter(pk=message.pk).update(state=MessageState.UNKNOWN, attempts=1)
    message.refresh_from_db()

    delivery.message_resend(tenant=tenant, message=message, actor=manager)
    message.refresh_from_db()
    assert message.state == MessageState.QUEUED and message.attempts == 0
    assert deliver_due()["sent"] == 1


def test_a_pool_sequence_without_room_defers_instead_of_dropping(tenant, smtp_server, no_frequency_cap):
    from messaging.models import MailboxPool, PoolMember
    from tests.factories import MailboxFactory, SequenceFactory

    full = MailboxFactory(tenant=tenant, smtp_port=smtp_server.port, hourly_cap=0)
    pool = MailboxPool.objects.create(tenant=tenant, name="P")
    PoolMember.objects.create(pool=pool, mailbox=full, weight=1)
    pooled = SequenceFactory(tenant=tenant, mailbox_pool=pool, sender_profile=None)
    message = _queued(tenant, pooled)
    at = timezone.now()

    report = deliver_due(at=at)

    message.refresh_from_db()
    assert report["deferred"] == 1
    assert message.state == MessageState.QUEUED and message.next_attempt_at > at
    assert Enrollment.objects.filter(pk=message.enrollment_id, status="active").exists()


def test_a_message_approved_outside_the_steps_send_window_waits_for_it_to_open(tenant, sequence, smtp_server):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from tests.dates import MONDAY, next_weekday_at

    new_york = ZoneInfo("America/New_York")
    contact = ContactFactory(tenant=tenant, timezone="America/New_York")
    step = StepFactory(sequence=sequence, window_days=[0, 1, 2, 3, 4], window_start=time(9), window_end=time(17))
    message = _queued(tenant, sequence, contact=contact, step=step)
    monday_late_evening = next_weekday_at(MONDAY, time(23), new_york)

    report = deliver_due(at=monday_late_evening)

    message.refresh_from_db()
    assert report["deferred"] == 1 and smtp_server.messages == []
    assert message.state == MessageState.QUEUED
    assert message.next_attempt_at == datetime.combine(monday_late_evening.date() + timedelta(days=1), time(9),
                                                       tzinfo=new_york)
    assert "send window" in message.error
    assert deliver_due(at=message.next_attempt_at)["sent"] == 1


def test_an_unreachable_mailbox_is_dialled_once_per_batch(tenant, sequence, mailbox, monkeypatch):
    # Each dial can wait SMTP_TIMEOUT: dialling again for every message of the batch
    # would let the batch outlive its sending lease.
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        mailbox.smtp_port = probe.getsockname()[1]
    mailbox.save(update_fields=["smtp_port"])
    dials = []
    real = delivery.connections.mailbox_connection
    monkeypatch.setattr(delivery.connections, "mailbox_connection",
                        lambda mb, **kw: dials.append(mb.pk) or real(mb, **kw))
    messages = [_queued(tenant, sequence) for _ in range(3)]

    report = deliver_due()

    assert report["retried"] == 3
    assert dials == [mailbox.pk]
    for message in messages:
        message.refresh_from_db()
        assert message.state == MessageState.QUEUED and message.attempts == 1
        assert "ConnectionRefusedError" in message.error
    assert SendRecord.objects.count() == 0  # every slot was given back
