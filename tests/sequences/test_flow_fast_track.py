"""Seed 001's fast-track flow end to end: a rep makes it from the template, enrolls the
contacts, the processor and delivery run it against a real SMTP server, and each contact
follows its own path: those who click the demo link are tagged "High Intent" and get the
calendar email, everyone else the case study after three days, and nobody gets both.

Delivery to the in-process server costs about 0.1 s a message here, so the suite runs it
with 250 contacts; SCENDCORE_FAST_TRACK_CONTACTS=1000 runs the issue's figure (about
3.5 minutes)."""
import os
from collections import Counter
from datetime import timedelta

import pytest

from contacts.models import Contact, EventKind, Tag
from messaging.models import OutboundMessage
from messaging.services.delivery import deliver_due
from sequences.models import Activity, Enrollment
from sequences.services.enrollments import enrollments_bulk_create
from sequences.services.sequences import sequence_activate, sequence_create_from_template
from tests.factories import AgentFactory
from tests.messaging.conftest import mailbox, smtp_server  # noqa: F401 - the real SMTP server's fixtures

from .engine_helpers import WEDNESDAY, sweep_inline
from .flow_helpers import contact_did

pytestmark = [pytest.mark.slow, pytest.mark.scale, pytest.mark.django_db]
CONTACTS = int(os.environ.get("SCENDCORE_FAST_TRACK_CONTACTS", 250))
CLICKERS = CONTACTS * 3 // 10


def _run(now):
    """What beat and the workers do at `now`: sweep until nothing is due, then deliver."""
    sweep_inline(now=now)
    deliver_due(at=now)


def test_a_rep_builds_the_fast_track_flow_enrolls_contacts_and_each_follows_its_own_path(
        tenant, manager, mailbox, smtp_server):  # noqa: F811
    mailbox.daily_cap = mailbox.hourly_cap = 5000
    mailbox.save(update_fields=["daily_cap", "hourly_cap"])
    agent = AgentFactory(tenant=tenant, autonomy="auto_send")
    sequence = sequence_create_from_template(tenant=tenant, key="fast_track_demo", actor=manager, agent=agent,
                                             sender_profile=mailbox)
    sequence = sequence_activate(tenant=tenant, sequence=sequence, actor=manager)
    people = Contact.objects.bulk_create(
        Contact(tenant=tenant, email=f"lead{n}@prospect{n % 37}.example", first_name=f"Lead{n}",
                company="Prospect", timezone="America/New_York")
        for n in range(CONTACTS))
    result = enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=[c.pk for c in people],
                                     actor=manager, at=WEDNESDAY - timedelta(minutes=1))
    assert result.enrolled == CONTACTS, result.summary()

    _run(WEDNESDAY)  # the intro goes to everyone; each then waits up to 3 days for a demo click
    intros = {m.contact_id: m for m in OutboundMessage.objects.filter(step__key="intro", state="sent")}
    assert len(intros) == CONTACTS
    assert Enrollment.objects.filter(sequence=sequence, current_step__key="wait-for-click",
                                     waiting_on="event").count() == CONTACTS

    clickers = [c.pk for c in people[:CLICKERS]]
    for pk in clickers:
        contact_did(intros[pk], EventKind.CLICKED, at=WEDNESDAY + timedelta(hours=1),
                    url="https://scendly.example/book-demo?utm=intro")
    contact_did(intros[people[-1].pk], EventKind.CLICKED, at=WEDNESDAY + timedelta(hours=1),
                url="https://scendly.example/pricing")  # another link: keeps waiting
    _run(WEDNESDAY + timedelta(hours=1))  # the click woke their waits: tagged, calendar email queued
    _run(WEDNESDAY + timedelta(days=3, minutes=5))  # the others' 3 days are up; the cap let the calendar go

    high_intent = Tag.objects.get(tenant=tenant, name="High Intent")
    assert set(high_intent.contacts.values_list("pk", flat=True)) == set(clickers)
    sent = OutboundMessage.objects.filter(enrollment__sequence=sequence, state="sent")
    paths = {contact: keys for contact, keys in _keys_by_contact(sent).items()}
    assert Counter(paths.values()) == {("calendar", "intro"): CLICKERS, ("case-study", "intro"): CONTACTS - CLICKERS}
    assert all(paths[pk] == ("calendar", "intro") for pk in clickers)
    assert Enrollment.objects.filter(sequence=sequence, status="completed").count() == CONTACTS

    # At the server: two messages for every contact, none twice.
    received = Counter(message["To"] for message in smtp_server.messages)
    assert len(received) == CONTACTS and set(received.values()) == {2}
    took = Counter(Activity.objects.filter(sequence=sequence, kind="path", data__node="clicked-demo")
                   .values_list("data__label", flat=True))
    assert took == {"Clicked demo": CLICKERS, "default": CONTACTS - CLICKERS}


def _keys_by_contact(messages):
    keys = {}
    for contact_id, key in messages.values_list("contact_id", "step__key"):
        keys.setdefault(contact_id, []).append(key)
    return {contact: tuple(sorted(found)) for contact, found in keys.items()}
