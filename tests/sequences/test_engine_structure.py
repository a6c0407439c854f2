"""What the processor's structure promises: a fixed number of statements per batch,
one set of gates that the processor and the enrollment page read alike, a step of an
unknown kind failing loudly, and a revisited step getting work of its own."""
from contextlib import contextmanager
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from contacts.models import Contact
from messaging.models import OutboundMessage, SendRecord, Task
from sequences.engine import execute, sweep
from sequences.engine.explain import enrollment_explain
from sequences.flow import store, transitions
from sequences.models import Activity, Enrollment
from tests.factories import OutboundMessageFactory, TenantFactory

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


@contextmanager
def statements():
    """Every statement the connection sends, COPY and raw cursor ones included (Django's
    query capture sees only what goes through its own cursor)."""
    sent = []
    execute_, copy_ = psycopg.Cursor.execute, psycopg.Cursor.copy

    def counted_execute(self, query, *args, **kwargs):
        sent.append(str(query)[:80])
        return execute_(self, query, *args, **kwargs)

    def counted_copy(self, statement, *args, **kwargs):
        sent.append(str(statement)[:80])
        return copy_(self, statement, *args, **kwargs)

    psycopg.Cursor.execute, psycopg.Cursor.copy = counted_execute, counted_copy
    try:
        yield sent
    finally:
        psycopg.Cursor.execute, psycopg.Cursor.copy = execute_, copy_


def _due(tenant, sequence, step, count):
    contacts = Contact.objects.bulk_create(
        Contact(tenant=tenant, email=f"{sequence.pk}-{n}@example.org", first_name=f"C{n}", timezone="America/New_York")
        for n in range(count)
    )
    Enrollment.objects.bulk_create(
        Enrollment(tenant=tenant, sequence=sequence, contact=c, current_step=step,
                   next_run_at=WEDNESDAY - timedelta(minutes=1), enrolled_at=WEDNESDAY - timedelta(days=1))
        for c in contacts
    )


def _statements_for_a_batch(tenant, size):
    sequence, (first, *_) = running_sequence(tenant)
    _due(tenant, sequence, first, size)
    owner = sweep.new_owner()
    ids = sweep.claim_batch(now=WEDNESDAY, owner=owner, limit=size)
    assert len(ids) == size
    with statements() as sent:
        report = execute.process_batch(enrollment_ids=ids, lease_owner=owner, now=WEDNESDAY)
    assert report["executed"] == size
    return sent


def test_a_batch_of_1000_runs_exactly_as_many_statements_as_a_batch_of_100(tenant, other_tenant, settings):
    settings.PROCESSOR_KICK_DELIVERY = False  # delivery would run inline after the batch
    _statements_for_a_batch(TenantFactory(), 5)  # what a process looks up once (an id sequence's name)
    small = _statements_for_a_batch(tenant, 100)
    large = _statements_for_a_batch(other_tenant, 1000)

    assert len(large) == len(small), "\n".join(large)
    assert 5 < len(small) < 40
    assert OutboundMessage.objects.filter(tenant=tenant).count() == 100


# --------------------------------------------------------------------- gates agree

@pytest.fixture
def held_by_each_gate(tenant):
    """Three due enrollments, each held by one gate at WEDNESDAY (11:00 in New York)."""
    window_seq, (window_step, *_) = running_sequence(tenant)
    window_step.window_days, window_step.window_start, window_step.window_end = [0, 1, 2, 3, 4], time(13), time(17)
    window_step.save()
    by_window = due_enrollment(window_seq, window_step)

    cap_seq, (cap_step, *_) = running_sequence(tenant)
    by_cap = due_enrollment(cap_seq, cap_step)
    OutboundMessageFactory(tenant=tenant, contact=by_cap.contact, state="sent",
                           created_at=WEDNESDAY - timedelta(hours=1))

    mailbox_seq, (mailbox_step, *_) = running_sequence(tenant)
    mailbox = mailbox_seq.sender_profile
    mailbox.hourly_cap = 1
    mailbox.save()
    SendRecord.objects.create(tenant=tenant, mailbox=mailbox, recipient_domain="example.org",
                              sent_at=WEDNESDAY - timedelta(minutes=10))
    by_mailbox = due_enrollment(mailbox_seq, mailbox_step)

    # The cap lets the step go at 02:00 on Friday in New York, outside the step's window:
    # it goes when the window opens, at 09:00.
    night_seq, (night_step, *_) = running_sequence(tenant)
    night_step.window_days, night_step.window_start, night_step.window_end = [0, 1, 2, 3, 4], time(9), time(17)
    night_step.save()
    by_cap_at_night = due_enrollment(night_seq, night_step)
    OutboundMessageFactory(tenant=tenant, contact=by_cap_at_night.contact, state="sent",
                           created_at=WEDNESDAY - timedelta(hours=9))
    return {"window": (by_window, "window"), "cap": (by_cap, "frequency_cap"), "mailbox": (by_mailbox, "mailbox"),
            "cap, then the window": (by_cap_at_night, "frequency_cap")}


GATES = ("window", "frequency_cap", "mailbox")


def test_the_enrollment_page_names_the_gate_and_the_release_time_the_processor_uses(tenant, held_by_each_gate):
    explained = {}
    for case, (enrollment, _) in held_by_each_gate.items():
        explanation = enrollment_explain(tenant=tenant, enrollment=enrollment, now=WEDNESDAY)
        first_active = next(h for h in explanation.holds if h.active and h.kind in GATES)
        explained[case] = (first_active.kind, first_active.until)

    sweep_inline()

    for case, (enrollment, gate) in held_by_each_gate.items():
        deferred = Activity.objects.get(enrollment=enrollment, kind="deferred")
        enrollment.refresh_from_db()
        assert deferred.data["gate"] == gate, case
        assert explained[case] == (gate, enrollment.next_run_at), case
        assert enrollment.next_run_at > WEDNESDAY
    night = held_by_each_gate["cap, then the window"][0]
    assert night.next_run_at.astimezone(NEW_YORK).time() == time(9)


# --------------------------------------------------------------------- step kinds

def test_a_step_of_a_kind_no_step_type_runs_fails_the_enrollment_visibly_and_creates_nothing(tenant, other_tenant):
    sequence, (first, *_) = running_sequence(tenant)
    first.__class__.objects.filter(pk=first.pk).update(kind="wait_for_pigeon")
    enrollment = due_enrollment(sequence, first)
    outsider_sequence, (theirs, *_) = running_sequence(other_tenant)
    outsider = due_enrollment(outsider_sequence, theirs)

    sweep_inline()

    enrollment.refresh_from_db()
    assert enrollment.status == "failed" and enrollment.next_run_at is None
    failed = Activity.objects.get(enrollment=enrollment, kind="failed")
    assert "wait_for_pigeon" in failed.detail and "cannot be run" in failed.detail
    assert not Task.objects.filter(enrollment=enrollment).exists()
    assert not OutboundMessage.objects.filter(enrollment=enrollment).exists()
    explanation = enrollment_explain(tenant=tenant, enrollment=enrollment)
    assert explanation.answer.startswith("Failed") and "wait_for_pigeon" in explanation.answer
    outsider.refresh_from_db()
    assert outsider.status == "active" and OutboundMessage.objects.filter(enrollment=outsider).count() == 1


def test_a_revisited_step_gets_its_own_idempotency_key_and_its_own_message(tenant, settings):
    settings.PROCESSOR_KICK_DELIVERY = False
    tenant.frequency_cap_messages = 0  # the second visit comes at once: the cap would hold it
    tenant.save()
    sequence, (first, second, _) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    sweep_inline()
    enrollment.refresh_from_db()
    assert enrollment.current_step == second

    # Back to the first step, as a loop in a flow would take it: a new visit, a new pass.
    from django.db import transaction
    with transaction.atomic():
        row = store.locked(enrollment.pk, tenant_id=tenant.pk)
        rows = transitions.move(row, first, at=WEDNESDAY, detail="Loop back to step 1")
        row.next_run_at = WEDNESDAY
        store.save(row, rows, at=WEDNESDAY)
    sweep_inline()

    keys = list(OutboundMessage.objects.filter(enrollment=enrollment, step=first).order_by("id")
                .values_list("idempotency_key", "state"))
    assert keys == [(f"{enrollment.pk}:{first.pk}:1", "queued"), (f"{enrollment.pk}:{first.pk}:3", "queued")]
    enrollment.refresh_from_db()
    assert enrollment.current_step == second and enrollment.step_pass == 4
