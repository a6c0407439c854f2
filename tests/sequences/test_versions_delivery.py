"""A publish that moves 1,000 contacts in flight, through the real processor and delivery
to a real SMTP server: every contact gets every step of its path exactly once, none is
lost, and the removed step is never sent after the publish."""
from collections import Counter
from datetime import timedelta

import pytest

from messaging.services.delivery import deliver_due
from sequences.engine import execute, sweep
from sequences.models import Enrollment, Step
from sequences.services import steps as step_service
from sequences.services import versions
from sequences.services.enrollments import enrollments_bulk_create
from tests.factories import ContactFactory
from tests.messaging.conftest import mailbox, smtp_server  # noqa: F401 - fixtures

from .engine_helpers import WEDNESDAY, running_sequence, sweep_inline

pytestmark = [pytest.mark.slow, pytest.mark.scale, pytest.mark.django_db]
CONTACTS = 1000
AHEAD = 400  # contacts the processor takes past "Intro" before the publish


def deliver_all(at):
    """Delivery runs until nothing is due."""
    while deliver_due(at=at).get("sent"):
        pass


def run_until_idle(at):
    while sweep_inline(now=at)[0]:
        pass
    deliver_all(at)


def test_a_publish_with_a_node_map_while_1000_are_in_flight_sends_no_step_twice_and_loses_none(
        tenant, mailbox, smtp_server, rep):
    tenant.frequency_cap_messages = 0
    tenant.save(update_fields=["frequency_cap_messages"])
    mailbox.daily_cap = mailbox.hourly_cap = 10 * CONTACTS
    mailbox.save(update_fields=["daily_cap", "hourly_cap"])
    sequence, (intro, case) = running_sequence(tenant, steps=2, delay_days=1, sender_profile=mailbox)
    for step, subject in ((intro, "Intro"), (case, "Case study")):
        Step.objects.filter(pk=step.pk).update(title=subject, subject_template=subject)
    contacts = ContactFactory.create_batch(CONTACTS, tenant=tenant)
    enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=[c.pk for c in contacts], actor=rep,
                            at=WEDNESDAY - timedelta(minutes=5), skip_active_elsewhere=False)
    # The processor has taken some contacts past "Intro" when the publish lands.
    claimed = 0
    while claimed < AHEAD:
        batches = []
        claimed += sweep.run(now=WEDNESDAY, limit=AHEAD // 4, max_batches=1,
                             dispatch=lambda ids, owner, at: batches.append((ids, owner)))
        for ids, owner in batches:
            execute.process_batch(enrollment_ids=ids, lease_owner=owner, now=WEDNESDAY)
    deliver_all(WEDNESDAY)
    assert len(smtp_server.messages) == AHEAD
    step_service.step_delete(tenant=tenant, step=case, actor=rep)
    replacement = step_service.step_add(tenant=tenant, sequence=sequence, actor=rep,
                                        values={"delay_value": 1, "subject_template": "Case study v2"})
    Step.objects.filter(pk=replacement.pk).update(title="Case study v2")
    preview = versions.publish_preview(tenant=tenant, sequence=sequence, node_map={case.key: replacement.key})
    assert {group.key: group.count for group in preview.groups} == {intro.key: CONTACTS - AHEAD, case.key: AHEAD}
    assert [g.sentence for g in preview.groups if g.key == case.key] == [
        f"{AHEAD} contacts waiting at ‘Case study’ move to ‘Case study v2’."]

    version, moved = versions.version_publish(tenant=tenant, sequence=sequence, actor=rep, move="map",
                                              node_map={case.key: replacement.key})

    assert moved == preview.moving == CONTACTS
    run_until_idle(WEDNESDAY)
    run_until_idle(WEDNESDAY + timedelta(days=1, minutes=10))
    received = Counter((m["To"], m["Subject"]) for m in smtp_server.messages)
    assert len(smtp_server.messages) == 2 * CONTACTS
    assert set(received.values()) == {1}, "a step was sent twice"
    per_contact = Counter(to for to, _ in received)
    assert len(per_contact) == CONTACTS and set(per_contact.values()) == {2}
    assert Counter(subject for _, subject in received) == {"Intro": CONTACTS, "Case study v2": CONTACTS}
    assert Enrollment.objects.filter(sequence=sequence, status="completed", version=version).count() == CONTACTS
