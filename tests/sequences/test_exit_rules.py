"""Exit rules per sequence (seed 002): a reply (any, or only a positive one) exits or
pauses, converted and disqualified leads exit unless turned off, and N days without an
open, click or reply exit through the processor. No rules ({}) is the behaviour from
before: the existing reaction and processor tests pin it; the cases here compare it."""
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import ContactEvent
from messaging.models import InboundMessage, MessageState, OutboundMessage
from messaging.services.inbound import inbound_process
from messaging.services.intent import reply_intent
from scendcore.models import AuditEntry
from sequences.flow.rules import exit_rules_of
from sequences.services.exit_rules import exit_rules_set
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


def sent_message(sequence):
    step = StepFactory(sequence=sequence)
    enrollment = EnrollmentFactory(tenant=sequence.tenant, sequence=sequence, current_step=step)
    return OutboundMessage.objects.create(
        tenant=sequence.tenant, enrollment=enrollment, step=step, contact=enrollment.contact,
        idempotency_key=f"{enrollment.pk}:{step.pk}:1", state=MessageState.SENT, to_address=enrollment.contact.email,
        subject="Quick question", body_text="Hi", message_id=make_msgid(domain="scendly.example"),
        sent_at=timezone.now(),
    )


def reply(message, body):
    mail = EmailMessage()
    mail["From"] = message.contact.email
    mail["To"] = "sam@scendly.example"
    mail["Subject"] = f"Re: {message.subject}"
    mail["Message-ID"] = make_msgid(domain="acme.example")
    mail["In-Reply-To"] = message.message_id
    mail.set_content(f"{body}\n\nOn Tue, Sam wrote:\n> Would a demo be interesting? Let's talk.")
    inbound_process(tenant=message.tenant, raw=mail.as_bytes())
    message.enrollment.refresh_from_db()
    return message.enrollment


def test_a_positive_reply_exits_a_sequence_that_exits_only_on_positive_replies(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    exit_rules_set(tenant=tenant, sequence=sequence, values={"reply": "exit_positive"}, actor=None)
    message = sent_message(sequence)

    enrollment = reply(message, "Sounds good, send me times for Thursday.")

    assert (enrollment.status, enrollment.exit_reason) == ("exited", "positive reply")
    assert InboundMessage.objects.get().intent == "positive"
    assert ContactEvent.objects.get(kind="replied").data["intent"] == "positive"


def test_a_negative_reply_does_not_exit_it_and_pauses_as_before(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    exit_rules_set(tenant=tenant, sequence=sequence, values={"reply": "exit_positive"}, actor=None)
    message = sent_message(sequence)

    # The quoted pitch below it ("Let's talk") is ours, not theirs.
    enrollment = reply(message, "Not interested, thanks.")

    assert (enrollment.status, enrollment.pause_reason) == ("paused", "replied")
    assert InboundMessage.objects.get().intent == "negative"


def test_exit_on_any_reply_exits_on_a_neutral_one(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    exit_rules_set(tenant=tenant, sequence=sequence, values={"reply": "exit"}, actor=None)

    enrollment = reply(sent_message(sequence), "Who is this?")

    assert (enrollment.status, enrollment.exit_reason) == ("exited", "replied")


def test_no_rules_a_reply_pauses_exactly_as_before(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")

    enrollment = reply(sent_message(sequence), "Sounds good, let's talk.")

    assert (enrollment.status, enrollment.pause_reason, enrollment.exit_reason) == ("paused", "replied", "")


@pytest.mark.parametrize("text, intent", [
    ("Yes please, send over some times.", "positive"),
    ("I'm interested, tell me more", "positive"),
    ("Not interested in a demo.", "negative"),
    ("Please remove me from your list", "negative"),
    ("Who gave you my address?", "neutral"),
])
def test_reply_intents_read_only_the_contacts_own_words(text, intent):
    assert reply_intent(subject="Re: Quick question", body=f"{text}\n> Interested in a demo?") == intent


def test_the_processor_exits_on_a_positive_reply_it_finds_and_pauses_on_another(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    exit_rules_set(tenant=tenant, sequence=sequence, values={"reply": "exit_positive"}, actor=None)
    keen = ContactFactory(tenant=tenant, last_replied_at=WEDNESDAY - timedelta(hours=2))
    ContactEvent.objects.create(tenant=tenant, contact=keen, kind="replied", data={"intent": "positive"},
                                occurred_at=WEDNESDAY - timedelta(hours=2))
    curt = ContactFactory(tenant=tenant, last_replied_at=WEDNESDAY - timedelta(hours=2))
    ContactEvent.objects.create(tenant=tenant, contact=curt, kind="replied", data={"intent": "negative"},
                                occurred_at=WEDNESDAY - timedelta(hours=2))
    exits, pauses = due_enrollment(sequence, first, contact=keen), due_enrollment(sequence, first, contact=curt)

    sweep_inline()

    exits.refresh_from_db(); pauses.refresh_from_db()
    assert (exits.status, exits.exit_reason) == ("exited", "positive reply")
    assert (pauses.status, pauses.pause_reason) == ("paused", "replied")


def test_no_engagement_for_n_days_exits_through_the_processor(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    exit_rules_set(tenant=tenant, sequence=sequence, values={"no_engagement_days": 3}, actor=None)
    silent = due_enrollment(sequence, first, enrolled_at=WEDNESDAY - timedelta(days=5))
    opened = due_enrollment(sequence, first, enrolled_at=WEDNESDAY - timedelta(days=5))
    ContactEvent.objects.create(tenant=tenant, contact=opened.contact, kind="opened",
                                occurred_at=WEDNESDAY - timedelta(days=1))
    fresh = due_enrollment(sequence, first, enrolled_at=WEDNESDAY - timedelta(days=2))

    sweep_inline()

    silent.refresh_from_db()
    assert (silent.status, silent.exit_reason) == ("exited", "no engagement in 3 days")
    assert not OutboundMessage.objects.filter(enrollment=silent).exists()
    assert OutboundMessage.objects.filter(enrollment__in=[opened, fresh]).count() == 2


def test_without_the_rule_a_silent_enrollment_goes_on(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    silent = due_enrollment(sequence, first, enrolled_at=WEDNESDAY - timedelta(days=60))

    sweep_inline()

    assert OutboundMessage.objects.filter(enrollment=silent).count() == 1


def test_conversion_turned_off_lets_a_converted_lead_go_on(tenant):
    from contacts.services.contacts import contact_update

    keeps = SequenceFactory(tenant=tenant, status="active")
    exit_rules_set(tenant=tenant, sequence=keeps, values={"conversion": False}, actor=None)
    StepFactory(sequence=keeps)
    contact = ContactFactory(tenant=tenant)
    kept = EnrollmentFactory(tenant=tenant, sequence=keeps, contact=contact)
    ended = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant, status="active"), contact=contact)

    contact_update(tenant=tenant, contact=contact, data={"lead_status": "converted"}, actor=None)

    kept.refresh_from_db(); ended.refresh_from_db()
    assert kept.status == "active"
    assert (ended.status, ended.exit_reason) == ("unenrolled", "converted")


def test_the_processor_reads_the_conversion_rule_too(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    exit_rules_set(tenant=tenant, sequence=sequence, values={"disqualification": False}, actor=None)
    enrollment = due_enrollment(sequence, first, contact=ContactFactory(tenant=tenant, lead_status="disqualified"))
    other, (other_first, *_) = running_sequence(tenant)
    ended = due_enrollment(other, other_first, contact=ContactFactory(tenant=tenant, lead_status="disqualified"))

    sweep_inline()

    assert OutboundMessage.objects.filter(enrollment=enrollment).count() == 1
    ended.refresh_from_db()
    assert ended.exit_reason == "disqualified"


def test_empty_rules_are_the_sequences_pause_settings():
    class Stub:
        stop_on_reply, stop_on_meeting = True, False

    rules = exit_rules_of({}, sequence=Stub)
    assert (rules.on_reply("positive"), rules.on_reply(""), rules.on_meeting()) == ("pause", "pause", "")
    assert (rules.ends_lead("converted"), rules.ends_lead("disqualified"), rules.no_engagement_days) == (
        "converted", "disqualified", None)


# ---------------------------------------------------------------- the settings form

def settings_post(sequence, **extra):
    return {"name": sequence.name, "reenroll_policy": "after_days", "reenroll_after_days": "30",
            "rejection_policy": "skip_step", "stop_on_reply": "on", **extra}


def test_the_settings_form_saves_the_exit_rules_on_the_current_version(rep_client, tenant):
    sequence = SequenceFactory(tenant=tenant)
    url = reverse("sequences:sequence-settings", args=[sequence.pk])

    response = rep_client.post(url, settings_post(sequence, on_reply="exit_positive", on_conversion="continue",
                                                  no_engagement_days="14"))

    assert response.status_code == 302
    sequence.current_version.refresh_from_db()
    assert sequence.current_version.exit_rules == {"reply": "exit_positive", "conversion": False,
                                                   "no_engagement_days": 14}
    assert AuditEntry.objects.filter(tenant=tenant, action="exit_rules_changed").exists()
    page = rep_client.get(reverse("sequences:sequence-detail", args=[sequence.pk])).content.decode()
    assert 'value="exit_positive" selected' in page and 'value="14"' in page


def test_the_settings_form_refuses_a_bad_day_count_with_422(rep_client, tenant):
    sequence = SequenceFactory(tenant=tenant)

    response = rep_client.post(reverse("sequences:sequence-settings", args=[sequence.pk]),
                               settings_post(sequence, no_engagement_days="0"), HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    sequence.current_version.refresh_from_db()
    assert sequence.current_version.exit_rules == {}


def test_an_outsider_cannot_set_our_exit_rules(outsider_client, tenant):
    sequence = SequenceFactory(tenant=tenant)

    response = outsider_client.post(reverse("sequences:sequence-settings", args=[sequence.pk]),
                                    settings_post(sequence, on_reply="exit"))

    assert response.status_code == 404
    sequence.current_version.refresh_from_db()
    assert sequence.current_version.exit_rules == {}
