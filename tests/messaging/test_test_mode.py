"""Trying a sequence out: every step may go right away (0-minute delays), and test mode
sends every email to the rep's own address, past the frequency cap, at a real SMTP
server, while the real contact receives nothing."""
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging.models import MessageState, OutboundMessage
from messaging.services.delivery import deliver_due
from sequences.models import Enrollment
from sequences.services import steps as step_service
from sequences.services.enrollments import enrollment_create
from tests.factories import AgentFactory, ContactFactory, SequenceFactory, StepFactory
from tests.sequences.engine_helpers import sweep_inline

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial(tenant, mailbox, manager):
    """An active two-step sequence, both steps with no delay, sending through the real
    SMTP server; the tenant keeps its default frequency cap (1 message per 48 h)."""
    assert (tenant.frequency_cap_messages, tenant.frequency_cap_hours) == (1, 48)
    sequence = SequenceFactory(tenant=tenant, sender_profile=mailbox, status="active", owner=manager,
                               agent=AgentFactory(tenant=tenant, autonomy="auto_send"))
    for order, job_type in ((1, "initial_outreach"), (2, "follow_up")):
        StepFactory(sequence=sequence, order=order, delay_value=0, delay_unit="minutes", job_type=job_type)
    return sequence


def _html(received):
    return received.get_body(preferencelist=("html",)).get_content()


def _run_both_steps(tenant, sequence, contact, actor):
    enrollment = enrollment_create(tenant=tenant, sequence=sequence, contact=contact, actor=actor)
    for _ in range(2):
        now = timezone.now()
        sweep_inline(now=now)
        deliver_due(at=now)
    enrollment.refresh_from_db()
    return enrollment


def test_every_step_may_have_a_zero_minute_delay_and_move_anywhere(tenant, rep):
    sequence = SequenceFactory(tenant=tenant)
    first = step_service.step_add(tenant=tenant, sequence=sequence, actor=rep, values={"delay_value": 0})
    second = step_service.step_add(tenant=tenant, sequence=sequence, actor=rep,
                                   values={"delay_value": 0, "delay_unit": "minutes"})

    assert (first.delay_value, second.delay_value) == (0, 0)
    step_service.step_move(tenant=tenant, step=first, position=2, actor=rep)
    assert list(sequence.steps.order_by("order").values_list("pk", flat=True)) == [second.pk, first.pk]


def test_without_test_mode_the_frequency_cap_holds_the_second_step(tenant, trial, rep, smtp_server):
    contact = ContactFactory(tenant=tenant, email="benjamin@globex.example")

    enrollment = _run_both_steps(tenant, trial, contact, rep)

    assert [m["To"] for m in smtp_server.messages] == ["benjamin@globex.example"]
    assert enrollment.current_step.order == 2 and enrollment.next_run_at > timezone.now()
    assert "/t/o/" in _html(smtp_server.messages[0])  # the tenant tracks opens


def test_test_mode_sends_every_step_to_the_enrolling_reps_own_address_past_the_cap(tenant, trial, rep,
                                                                                   smtp_server):
    trial.test_mode = True
    trial.save()
    contact = ContactFactory(tenant=tenant, email="benjamin@globex.example")

    enrollment = _run_both_steps(tenant, trial, contact, rep)

    assert [m["To"] for m in smtp_server.messages] == [rep.email, rep.email]
    recipients = [address for envelope in smtp_server.handler.envelopes for address in envelope.rcpt_tos]
    assert recipients == [rep.email, rep.email]
    assert "benjamin@globex.example" not in str([m.as_string() for m in smtp_server.messages])
    # The rep opens the test emails: no pixel or tracked link records that as the contact's.
    assert not any("/t/o/" in _html(m) or "/t/c/" in _html(m) for m in smtp_server.messages)
    messages = OutboundMessage.objects.filter(enrollment=enrollment)
    assert {(m.state, m.to_address, m.test_intended_to) for m in messages} == {
        (MessageState.SENT, rep.email, "benjamin@globex.example")}
    assert enrollment.status == "completed"


def test_a_test_email_carries_no_unsubscribe_link_that_would_unsubscribe_the_real_contact(
        tenant, trial, rep, smtp_server, client):
    """The rep reads the test email: its unsubscribe link would speak for the contact."""
    trial.test_mode = True
    trial.save()
    contact = ContactFactory(tenant=tenant, email="benjamin@globex.example")
    control = ContactFactory(tenant=tenant, email="control@globex.example")
    live = SequenceFactory(tenant=tenant, sender_profile=trial.sender_profile, status="active", owner=trial.owner,
                           agent=trial.agent)
    StepFactory(sequence=live, order=1, delay_value=0, delay_unit="minutes")

    _run_both_steps(tenant, trial, contact, rep)
    _run_both_steps(tenant, live, control, rep)

    test_mails = [m for m in smtp_server.messages if m["To"] == rep.email]
    live_mail = next(m for m in smtp_server.messages if m["To"] == "control@globex.example")
    assert len(test_mails) == 2 and live_mail["List-Unsubscribe"] and "/u/" in _html(live_mail)
    for received in test_mails:
        assert received["List-Unsubscribe"] is None and received["List-Unsubscribe-Post"] is None
        assert "/u/" not in _html(received) and "/u/" not in received.get_body(("plain",)).get_content()
        assert "Test message" in received.get_body(("plain",)).get_content()
    contact.refresh_from_db()
    assert not contact.unsubscribed_at


def test_test_mode_falls_back_to_the_sequence_owners_address(tenant, trial, manager, smtp_server):
    trial.test_mode = True
    trial.save()
    contact = ContactFactory(tenant=tenant)
    enrollment = Enrollment.objects.get(pk=enrollment_create(tenant=tenant, sequence=trial, contact=contact,
                                                             actor=None).pk)

    sweep_inline(now=timezone.now())
    deliver_due()

    assert enrollment.enrolled_by is None
    assert [m["To"] for m in smtp_server.messages] == [manager.email]


def test_test_mode_is_labelled_on_the_sequence_and_on_its_messages(tenant, trial, rep, manager_client,
                                                                   outsider, smtp_server):
    trial.test_mode = True
    trial.save()
    contact = ContactFactory(tenant=tenant, email="benjamin@globex.example")
    enrollment_create(tenant=tenant, sequence=trial, contact=contact, actor=rep)
    sweep_inline(now=timezone.now())
    deliver_due()
    message = OutboundMessage.objects.get(contact=contact)

    builder = manager_client.get(reverse("sequences:sequence-detail", args=[trial.pk])).content.decode()
    assert 'id="test-mode-banner"' in builder and "Test mode" in builder
    detail = manager_client.get(f"/messages/{message.pk}/").content.decode()
    assert 'id="test-mode-banner"' in detail
    assert f"sent to {rep.email} instead of benjamin@globex.example" in detail
    listing = manager_client.get("/messages/").content.decode()
    assert "badge-test" in listing
    outsider_client = Client()
    outsider_client.force_login(outsider)
    assert outsider_client.get(f"/messages/{message.pk}/").status_code == 404


def test_test_mode_is_a_sequence_setting_in_the_builder(manager_client, tenant, trial):
    data = {"name": trial.name, "agent": trial.agent_id, "sender_profile": trial.sender_profile_id,
            "reenroll_policy": "never", "rejection_policy": "skip_step", "test_mode": "on"}

    response = manager_client.post(reverse("sequences:sequence-settings", args=[trial.pk]), data)

    assert response.status_code == 302
    trial.refresh_from_db()
    assert trial.test_mode is True
