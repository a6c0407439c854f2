"""The processor executing due steps: re-checks, gates, work created once, autonomy, advance."""
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone

import pytest

from agents.models import AgentJob
from approvals.models import ApprovalRequest
from messaging.models import OutboundMessage, SendRecord, Task
from sequences.engine import execute, sweep
from sequences.models import Activity, Enrollment
from tests.factories import ContactFactory, UserFactory

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


def kinds(enrollment):
    return list(Activity.objects.filter(enrollment=enrollment).order_by("id").values_list("kind", flat=True))


def test_a_due_email_step_with_an_auto_send_agent_is_queued_and_the_next_step_scheduled(tenant):
    sequence, (first, second, _) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)

    claimed, _ = sweep_inline()

    assert claimed == 1
    message = OutboundMessage.objects.get(enrollment=enrollment)
    assert message.idempotency_key == f"{enrollment.pk}:{first.pk}:1"
    assert (message.state, message.to_address, message.channel) == ("queued", enrollment.contact.email, "email")
    assert message.subject and message.body_text and message.approved_content_hash
    job = AgentJob.objects.get(enrollment=enrollment)
    assert (job.status, job.provider, message.agent_job_id) == ("succeeded", "template", job.pk)
    enrollment.refresh_from_db()
    assert enrollment.current_step == second
    assert enrollment.next_run_at == WEDNESDAY + timedelta(days=2)
    assert (enrollment.lease_owner, enrollment.lease_expires_at, enrollment.last_step_at) == ("", None, WEDNESDAY)
    assert kinds(enrollment) == ["step_executed", "step_scheduled"]


def test_every_scheduled_row_records_the_time_its_next_step_is_due(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollments = [due_enrollment(sequence, first) for _ in range(3)]

    sweep_inline()

    for enrollment in enrollments:
        enrollment.refresh_from_db()
        scheduled = Activity.objects.get(enrollment=enrollment, kind="step_scheduled")
        assert scheduled.data == {"next_run_at": enrollment.next_run_at.isoformat()}
        assert scheduled.data["next_run_at"] == (WEDNESDAY + timedelta(days=2)).isoformat()


def test_the_last_step_completes_the_enrollment(tenant):
    sequence, (only,) = running_sequence(tenant, steps=1)
    enrollment = due_enrollment(sequence, only)

    sweep_inline()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.next_run_at, enrollment.finished_at) == ("completed", None, WEDNESDAY)
    assert kinds(enrollment) == ["step_executed", "completed"]


def test_a_draft_that_needs_review_waits_in_the_approval_queue(tenant):
    sequence, (first, *_) = running_sequence(tenant, autonomy="review_all", approval_expiry_hours=24)
    enrollment = due_enrollment(sequence, first)

    sweep_inline()

    message = OutboundMessage.objects.get(enrollment=enrollment)
    approval = ApprovalRequest.objects.get(message=message)
    assert message.state == "pending_approval"
    assert approval.status == "pending"
    assert approval.review_reasons == ["agent is set to review every draft"]
    assert approval.expires_at == WEDNESDAY + timedelta(hours=24)
    enrollment.refresh_from_db()
    assert (enrollment.current_step, enrollment.waiting_on, enrollment.next_run_at) == (first, "approval", None)
    assert kinds(enrollment) == ["waiting"]


def test_a_repeated_execution_of_the_same_step_creates_nothing_new(tenant):
    sequence, (first, second, _) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    sweep_inline()
    # Put the enrollment back on the same step and pass, as a crash after commit would.
    Enrollment.objects.filter(pk=enrollment.pk).update(current_step=first, step_pass=1, next_run_at=WEDNESDAY)

    sweep_inline()

    assert OutboundMessage.objects.filter(enrollment=enrollment).count() == 1
    assert AgentJob.objects.filter(enrollment=enrollment).count() == 1
    enrollment.refresh_from_db()
    assert enrollment.current_step == second


def test_a_repeated_execution_whose_message_is_gone_drafts_again_under_the_agent_job_it_made(tenant):
    sequence, (first, second, _) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    sweep_inline()
    job = AgentJob.objects.get(enrollment=enrollment)
    OutboundMessage.objects.filter(enrollment=enrollment).delete()
    Enrollment.objects.filter(pk=enrollment.pk).update(current_step=first, step_pass=1, next_run_at=WEDNESDAY)

    sweep_inline()

    assert list(AgentJob.objects.filter(enrollment=enrollment)) == [job]
    message = OutboundMessage.objects.get(enrollment=enrollment)
    assert (message.agent_job_id, message.state, message.step_id) == (job.pk, "queued", first.pk)
    enrollment.refresh_from_db()
    assert enrollment.current_step == second


def test_a_new_pass_over_a_step_gets_an_agent_job_of_its_own(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    sweep_inline()
    earlier = AgentJob.objects.get(enrollment=enrollment)
    OutboundMessage.objects.filter(enrollment=enrollment).delete()
    Enrollment.objects.filter(pk=enrollment.pk).update(current_step=first, step_pass=2, next_run_at=WEDNESDAY)

    sweep_inline()

    latest = AgentJob.objects.exclude(pk=earlier.pk).get(enrollment=enrollment)
    assert (latest.step_id, latest.step_pass) == (first.pk, 2)
    assert OutboundMessage.objects.get(enrollment=enrollment).agent_job_id == latest.pk


@pytest.mark.parametrize(
    "contact_fields, reason",
    [
        ({"do_not_contact": True}, "do-not-contact"),
        ({"unsubscribed_at": WEDNESDAY - timedelta(days=2)}, "unsubscribed"),
        ({"bounced_at": WEDNESDAY - timedelta(days=2)}, "bounced"),
        ({"lead_status": "converted"}, "converted"),
        ({"lead_status": "disqualified"}, "disqualified"),
    ],
)
def test_a_contact_who_must_not_be_contacted_exits_with_the_reason(tenant, contact_fields, reason):
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first, contact=ContactFactory(tenant=tenant, **contact_fields))

    sweep_inline()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason, enrollment.next_run_at) == ("unenrolled", reason, None)
    assert not OutboundMessage.objects.filter(enrollment=enrollment).exists()
    assert Activity.objects.get(enrollment=enrollment).detail == reason


def test_a_reply_since_enrollment_pauses_when_the_sequence_stops_on_reply(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    replied = ContactFactory(tenant=tenant, last_replied_at=WEDNESDAY - timedelta(hours=2))
    enrollment = due_enrollment(sequence, first, contact=replied)

    sweep_inline()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.pause_reason) == ("paused", "replied")
    assert not OutboundMessage.objects.exists()


def test_a_reply_is_ignored_by_a_sequence_that_does_not_stop_on_reply(tenant):
    sequence, (first, *_) = running_sequence(tenant, stop_on_reply=False)
    replied = ContactFactory(tenant=tenant, last_replied_at=WEDNESDAY - timedelta(hours=2))
    enrollment = due_enrollment(sequence, first, contact=replied)

    sweep_inline()

    assert OutboundMessage.objects.filter(enrollment=enrollment).count() == 1


def test_a_meeting_booked_since_enrollment_pauses_it(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    met = ContactFactory(tenant=tenant, last_meeting_at=WEDNESDAY - timedelta(hours=2))
    enrollment = due_enrollment(sequence, first, contact=met)

    sweep_inline()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.pause_reason) == ("paused", "meeting booked")


def test_a_paused_sequence_leaves_its_enrollments_untouched_and_is_not_claimed_again(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    sequence.status = "paused"
    sequence.save()

    sweep_inline()
    claimed_again, _ = sweep_inline(now=WEDNESDAY + timedelta(minutes=1))

    enrollment.refresh_from_db()
    assert claimed_again == 0
    assert (enrollment.status, enrollment.current_step) == ("active", first)
    assert enrollment.next_run_at == WEDNESDAY - timedelta(minutes=1)
    assert not OutboundMessage.objects.exists()
    assert kinds(enrollment) == []


def test_an_archived_sequence_unenrolls(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    sequence.status = "archived"
    sequence.save()

    sweep_inline()

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("unenrolled", "sequence archived")


def test_the_frequency_cap_defers_to_when_the_last_message_leaves_the_window(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    other_sequence, (other_first, *_) = running_sequence(tenant)
    earlier = due_enrollment(other_sequence, other_first, contact=enrollment.contact)
    OutboundMessage.objects.create(
        tenant=tenant, idempotency_key="earlier", enrollment=earlier, contact=enrollment.contact,
        state="sent", to_address=enrollment.contact.email, created_at=WEDNESDAY - timedelta(hours=10),
    )
    Enrollment.objects.filter(pk=earlier.pk).update(next_run_at=None)

    sweep_inline()

    enrollment.refresh_from_db()
    assert enrollment.current_step == first
    assert enrollment.next_run_at == WEDNESDAY + timedelta(hours=38)
    deferred = Activity.objects.get(enrollment=enrollment)
    assert deferred.kind == "deferred"
    assert "frequency cap" in deferred.detail
    assert deferred.data["next_run_at"] == enrollment.next_run_at.isoformat()
    assert not OutboundMessage.objects.filter(enrollment=enrollment).exists()


def test_a_repeated_execution_still_counts_an_older_message_to_its_contact_behind_its_own(tenant):
    # Its own message is left out of the count, not the ones before it.
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    contact = enrollment.contact
    other_sequence, (other_first, *_) = running_sequence(tenant)
    earlier = due_enrollment(other_sequence, other_first, contact=contact)
    Enrollment.objects.filter(pk=earlier.pk).update(next_run_at=None)
    OutboundMessage.objects.create(
        tenant=tenant, idempotency_key="earlier", enrollment=earlier, contact=contact, state="sent",
        to_address=contact.email, created_at=WEDNESDAY - timedelta(hours=10),
    )
    OutboundMessage.objects.create(
        tenant=tenant, idempotency_key=f"{enrollment.pk}:{first.pk}:1", enrollment=enrollment, step=first,
        contact=contact, state="queued", to_address=contact.email, created_at=WEDNESDAY - timedelta(minutes=5),
    )

    sweep_inline()

    enrollment.refresh_from_db()
    assert (enrollment.current_step, enrollment.next_run_at) == (first, WEDNESDAY + timedelta(hours=38))
    assert "frequency cap" in Activity.objects.get(enrollment=enrollment, kind="deferred").detail


def test_two_sequences_due_together_send_one_message_under_the_cap(tenant):
    contact = ContactFactory(tenant=tenant)
    a, (a_first, *_) = running_sequence(tenant)
    b, (b_first, *_) = running_sequence(tenant)
    due_enrollment(a, a_first, contact=contact)
    due_enrollment(b, b_first, contact=contact)

    sweep_inline()

    assert OutboundMessage.objects.filter(contact=contact).count() == 1
    assert Activity.objects.filter(contact=contact, kind="deferred").count() == 1


def test_outside_the_send_window_the_step_waits_for_the_next_opening_in_the_contacts_time(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    first.window_days, first.window_start, first.window_end = [0, 1, 2, 3, 4], time(9), time(17)
    first.save()
    evening = datetime(2025, 6, 11, 23, 0, tzinfo=dt_timezone.utc)  # 19:00 in New York
    enrollment = due_enrollment(sequence, first, at=evening)

    sweep_inline(now=evening)

    enrollment.refresh_from_db()
    assert enrollment.next_run_at == datetime(2025, 6, 12, 13, 0, tzinfo=dt_timezone.utc)  # 09:00 EDT
    assert "outside the send window" in Activity.objects.get(enrollment=enrollment).detail


def test_a_mailbox_at_its_limit_defers_the_step(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    mailbox = sequence.sender_profile
    mailbox.hourly_cap = 1
    mailbox.save()
    SendRecord.objects.create(tenant=tenant, mailbox=mailbox, recipient_domain="x.example",
                              sent_at=WEDNESDAY - timedelta(minutes=20))
    enrollment = due_enrollment(sequence, first)

    sweep_inline()

    enrollment.refresh_from_db()
    assert enrollment.next_run_at == WEDNESDAY + timedelta(minutes=40)
    assert "sending limit" in Activity.objects.get(enrollment=enrollment).detail


def test_a_task_step_puts_a_task_with_talking_points_in_the_owners_inbox(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    first.channel = first.job_type = "call_reminder"
    first.kind = "task"
    first.save()
    owner = UserFactory()
    enrollment = due_enrollment(sequence, first, contact=ContactFactory(tenant=tenant, owner=owner))

    sweep_inline()
    Enrollment.objects.filter(pk=enrollment.pk).update(next_run_at=WEDNESDAY)
    sweep_inline()

    task = Task.objects.get(enrollment=enrollment)
    assert (task.owner, task.kind, task.status) == (owner, "call_reminder", "open")
    assert task.idempotency_key == f"{enrollment.pk}:{first.pk}:1"
    assert "Talking points" in task.talking_points
    enrollment.refresh_from_db()
    assert (enrollment.waiting_on, enrollment.next_run_at) == ("task", None)
    assert not OutboundMessage.objects.exists()


def test_a_remote_model_agent_leaves_a_queued_job_and_the_enrollment_waits_for_it(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    sequence.agent.provider = "openai_compatible"
    sequence.agent.save()
    enrollment = due_enrollment(sequence, first)

    sweep_inline()

    job = AgentJob.objects.get(enrollment=enrollment)
    message = OutboundMessage.objects.get(enrollment=enrollment)
    assert (job.status, message.state, message.agent_job_id) == ("queued", "draft", job.pk)
    enrollment.refresh_from_db()
    assert (enrollment.waiting_on, enrollment.next_run_at) == ("agent", None)


def test_an_sms_step_for_a_contact_who_opted_out_is_skipped_not_sent(tenant):
    sequence, (first, second, _) = running_sequence(tenant)
    first.channel = "sms"
    first.save()
    contact = ContactFactory(tenant=tenant, phone="+14155550100", sms_opted_out_at=WEDNESDAY)
    enrollment = due_enrollment(sequence, first, contact=contact)

    sweep_inline()

    enrollment.refresh_from_db()
    assert enrollment.current_step == second
    assert kinds(enrollment) == ["step_skipped", "step_scheduled"]
    assert not OutboundMessage.objects.exists()


def test_priority_orders_the_claim_when_more_is_due_than_a_batch(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    normal = due_enrollment(sequence, first, at=WEDNESDAY - timedelta(hours=5))
    critical = due_enrollment(sequence, first, priority=3)
    high = due_enrollment(sequence, first, priority=2)

    order = [sweep.claim_batch(now=WEDNESDAY, owner=f"o{n}", limit=1) for n in range(3)]

    assert order == [[critical.pk], [high.pk], [normal.pk]]


def test_a_leased_row_is_not_claimed_until_its_lease_runs_out(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)

    assert sweep.claim_batch(now=WEDNESDAY, owner="dead-worker", limit=10) == [enrollment.pk]
    assert sweep.claim_batch(now=WEDNESDAY + timedelta(seconds=30), owner="other", limit=10) == []
    after_lease = WEDNESDAY + timedelta(seconds=sweep.lease_seconds() + 1)
    assert sweep.claim_batch(now=after_lease, owner="other", limit=10) == [enrollment.pk]


def test_a_stale_delivery_of_a_batch_whose_lease_was_taken_over_does_nothing(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollment = due_enrollment(sequence, first)
    sweep.claim_batch(now=WEDNESDAY, owner="dead-worker", limit=10)
    later = WEDNESDAY + timedelta(seconds=sweep.lease_seconds() + 1)
    sweep.claim_batch(now=later, owner="new-worker", limit=10)

    report = execute.process_batch(enrollment_ids=[enrollment.pk], lease_owner="dead-worker", now=later)

    assert report == {}
    assert not OutboundMessage.objects.exists()
    enrollment.refresh_from_db()
    assert enrollment.lease_owner == "new-worker"


def test_the_same_batch_delivered_twice_runs_once(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    enrollments = [due_enrollment(sequence, first) for _ in range(3)]
    ids = sweep.claim_batch(now=WEDNESDAY, owner="w1", limit=10)

    first_run = execute.process_batch(enrollment_ids=ids, lease_owner="w1", now=WEDNESDAY)
    second_run = execute.process_batch(enrollment_ids=ids, lease_owner="w1", now=WEDNESDAY)

    assert first_run["executed"] == 3 and second_run == {}
    assert OutboundMessage.objects.count() == 3
    assert Activity.objects.filter(kind="step_executed").count() == len(enrollments)


def test_a_row_that_breaks_its_batch_is_deferred_with_the_error_and_the_others_go_on(tenant, monkeypatch):
    sequence, (first, *_) = running_sequence(tenant)
    good = due_enrollment(sequence, first)
    bad = due_enrollment(sequence, first)
    real = execute.Batch.recheck

    def recheck(self, e):
        if e.pk == bad.pk:
            raise RuntimeError("boom")
        return real(self, e)

    monkeypatch.setattr(execute.Batch, "recheck", recheck)

    sweep_inline()

    assert OutboundMessage.objects.filter(enrollment=good).count() == 1
    bad.refresh_from_db()
    assert bad.next_run_at == WEDNESDAY + execute.ERROR_BACKOFF
    assert bad.lease_owner == ""
    assert "boom" in Activity.objects.get(enrollment=bad, kind="deferred").detail


@pytest.mark.django_db(transaction=True)  # the batch commits, as in a worker
def test_a_batch_runs_without_jit_compilation_and_leaves_the_connection_as_it_was(tenant, monkeypatch):
    from django.db import connection

    from scendcore.gates import PROCESS
    from sequences.engine.gates.frequency_cap import FrequencyCapGate

    sequence, (first, *_) = running_sequence(tenant)
    due_enrollment(sequence, first)
    seen = []
    real = FrequencyCapGate.prepare

    def spy(self, attempts, *, now, phase):
        if phase == PROCESS:  # the processor's batch (delivery, kicked after it, asks too)
            with connection.cursor() as cursor:
                cursor.execute("SHOW jit")
                seen.append(cursor.fetchone()[0])
        return real(self, attempts, now=now, phase=phase)

    monkeypatch.setattr(FrequencyCapGate, "prepare", spy)
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        before = cursor.fetchone()[0]

        sweep_inline()

        cursor.execute("SHOW jit")
        after = cursor.fetchone()[0]
    assert seen == ["off"]
    assert before == after == "on"


def test_an_idle_sweep_reads_only_the_claim_index(tenant):
    from django.db import connection

    sequence, (first, *_) = running_sequence(tenant)
    due_enrollment(sequence, first, at=WEDNESDAY + timedelta(days=3))
    params = {"now": WEDNESDAY, "owner": "x", "expires": WEDNESDAY, "limit": 500, "priorities": sweep.PRIORITIES}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sweep.DUE_SQL, params)
        due_plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + sweep.EXPIRED_SQL, params)
        expired_plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "enrollment_claim_idx" in due_plan
    assert "enrollment_lease_idx" in expired_plan


def test_a_claim_looks_up_the_rows_it_picked_by_their_primary_keys(tenant):
    # Joined to the picked rows instead, the UPDATE was planned as a hash join over the
    # whole enrollment table on large tables: every claim then cost as much as the table
    # was large. (Small test tables make any plan cheap, so the shape is what is checked.)
    from django.db import connection

    sequence, (first, *_) = running_sequence(tenant)
    due_enrollment(sequence, first)
    params = {"now": WEDNESDAY, "owner": "x", "expires": WEDNESDAY, "limit": 100, "priorities": sweep.PRIORITIES}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plans = []
        for sql in (sweep.DUE_SQL, sweep.EXPIRED_SQL):
            cursor.execute("EXPLAIN " + sql, params)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))

    for plan in plans:
        assert "Index Cond: (id = ANY ($" in plan  # not "(id = picked.id)": no join
        assert "Hash" not in plan


def test_a_sweep_stops_claiming_at_the_in_flight_cap_counting_batches_already_out(tenant, settings):
    settings.PROCESSOR_MAX_IN_FLIGHT = 5
    sequence, (first, *_) = running_sequence(tenant)
    for _ in range(9):
        due_enrollment(sequence, first)
    sweep.claim_batch(now=WEDNESDAY, owner="earlier-sweep", limit=2)
    batches = []

    claimed = sweep.run(now=WEDNESDAY, limit=2, dispatch=lambda ids, owner, at: batches.append(ids))

    assert claimed == 3 and [len(ids) for ids in batches] == [2, 1]
    assert Enrollment.objects.filter(lease_owner="").count() == 4
