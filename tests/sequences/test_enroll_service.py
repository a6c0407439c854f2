"""Enrollment rules: one contact, many contacts, pause/resume/unenroll, auto-enrollment."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.models import OutboundMessage
from sequences.models import Activity, Enrollment
from sequences.services import enrollments as service
from sequences.services.auto_enroll import auto_enroll_all, auto_enroll_sequence, entry_rules_update
from tests.dates import day_text
from tests.factories import ContactFactory, ContactListFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(tenant):
    seq = SequenceFactory(tenant=tenant, status="active", reenroll_policy="always")
    StepFactory(sequence=seq, delay_value=2, delay_unit="days")
    StepFactory(sequence=seq, delay_value=3, delay_unit="days")
    return seq


def _enroll(tenant, sequence, contact, **kw):
    return service.enrollment_create(tenant=tenant, sequence=sequence, contact=contact, actor=None, **kw)


def test_enrolling_schedules_the_first_step_after_its_delay_and_records_both_activities(tenant, sequence, rep):
    contact = ContactFactory(tenant=tenant, timezone="UTC")
    at = timezone.now()

    enrollment = service.enrollment_create(tenant=tenant, sequence=sequence, contact=contact, actor=rep, at=at)

    assert enrollment.status == "active"
    assert enrollment.current_step.order == 1
    assert enrollment.next_run_at == at + timedelta(days=2)
    assert enrollment.enrolled_by == rep
    kinds = list(Activity.objects.filter(enrollment=enrollment).order_by("id").values_list("kind", flat=True))
    assert kinds == ["enrolled", "step_scheduled"]


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_a_draft_or_archived_sequence_refuses_enrollment_with_a_message(tenant, sequence, status):
    sequence.status = status
    sequence.save()

    with pytest.raises(ValidationError, match="only active or paused"):
        _enroll(tenant, sequence, ContactFactory(tenant=tenant))
    assert not Enrollment.objects.exists()


def test_a_paused_sequence_still_accepts_enrollments(tenant, sequence):
    sequence.status = "paused"
    sequence.save()
    assert _enroll(tenant, sequence, ContactFactory(tenant=tenant)).status == "active"


def test_a_sequence_without_steps_refuses(tenant):
    empty = SequenceFactory(tenant=tenant, status="active")
    with pytest.raises(ValidationError, match="no steps"):
        _enroll(tenant, empty, ContactFactory(tenant=tenant))


def test_another_tenants_contact_or_sequence_is_refused(tenant, other_tenant, sequence):
    with pytest.raises(ValidationError):
        _enroll(tenant, sequence, ContactFactory(tenant=other_tenant))
    theirs = SequenceFactory(tenant=other_tenant, status="active")
    StepFactory(sequence=theirs)
    with pytest.raises(ValidationError):
        _enroll(tenant, theirs, ContactFactory(tenant=tenant))
    assert not Enrollment.objects.exists()


def test_a_contact_is_never_enrolled_twice_while_an_enrollment_is_open(tenant, sequence):
    contact = ContactFactory(tenant=tenant)
    first = _enroll(tenant, sequence, contact)
    first.status = "paused"
    first.save()

    with pytest.raises(ValidationError, match="already enrolled"):
        _enroll(tenant, sequence, contact)
    assert Enrollment.objects.filter(contact=contact).count() == 1


def test_the_database_refuses_a_second_open_enrollment_even_without_the_service(tenant, sequence):
    contact = ContactFactory(tenant=tenant)
    _enroll(tenant, sequence, contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.create(tenant=tenant, sequence=sequence, contact=contact, status="active")


@pytest.mark.parametrize("field", ["do_not_contact", "unsubscribed_at", "bounced_at"])
def test_suppressed_contacts_are_refused_with_the_reason(tenant, sequence, field):
    value = True if field == "do_not_contact" else timezone.now()
    contact = ContactFactory(tenant=tenant, **{field: value})
    expected = {"do_not_contact": "do-not-contact", "unsubscribed_at": "unsubscribed", "bounced_at": "bounced"}[field]
    with pytest.raises(ValidationError, match=expected):
        _enroll(tenant, sequence, contact)


def _finished(tenant, sequence, contact, days_ago):
    return EnrollmentFactory(tenant=tenant, sequence=sequence, contact=contact, status="completed",
                             finished_at=timezone.now() - timedelta(days=days_ago))


def test_reenrollment_never_refuses_a_contact_who_finished_before(tenant, sequence):
    sequence.reenroll_policy = "never"
    sequence.save()
    contact = ContactFactory(tenant=tenant)
    _finished(tenant, sequence, contact, days_ago=400)
    with pytest.raises(ValidationError, match="does not allow re-enrollment"):
        _enroll(tenant, sequence, contact)


def test_reenrollment_always_lets_a_finished_contact_back_in(tenant, sequence):
    contact = ContactFactory(tenant=tenant)
    _finished(tenant, sequence, contact, days_ago=0)
    assert _enroll(tenant, sequence, contact).status == "active"


def test_reenrollment_after_a_cooldown_counts_days_since_the_last_enrollment_finished(tenant, sequence):
    sequence.reenroll_policy, sequence.reenroll_after_days = "after_days", 30
    sequence.save()
    recent, old = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    _finished(tenant, sequence, recent, days_ago=10)
    _finished(tenant, sequence, old, days_ago=31)

    with pytest.raises(ValidationError, match="30-day cooldown"):
        _enroll(tenant, sequence, recent)
    assert _enroll(tenant, sequence, old).status == "active"


def test_a_first_step_due_now_kicks_the_processor_after_commit(tenant, django_capture_on_commit_callbacks):
    now_seq = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=now_seq, delay_value=0)
    later_seq = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=later_seq, delay_value=1)

    with django_capture_on_commit_callbacks() as due_now:
        _enroll(tenant, now_seq, ContactFactory(tenant=tenant))
    with django_capture_on_commit_callbacks() as due_later:
        _enroll(tenant, later_seq, ContactFactory(tenant=tenant))

    assert len(due_now) == 1
    assert len(due_later) == 0


# --- bulk ------------------------------------------------------------------------------

def test_bulk_enrollment_reports_counts_with_reasons(tenant, other_tenant, sequence):
    sequence.reenroll_policy = "never"
    sequence.save()
    fresh = [ContactFactory(tenant=tenant) for _ in range(3)]
    enrolled = ContactFactory(tenant=tenant)
    _enroll(tenant, sequence, enrolled)
    dnc = ContactFactory(tenant=tenant, do_not_contact=True)
    unsub = ContactFactory(tenant=tenant, unsubscribed_at=timezone.now())
    bounced = ContactFactory(tenant=tenant, bounced_at=timezone.now())
    came_back = ContactFactory(tenant=tenant)
    _finished(tenant, sequence, came_back, days_ago=5)
    outsider = ContactFactory(tenant=other_tenant)
    ids = [c.pk for c in fresh + [enrolled, dnc, unsub, bounced, came_back, outsider]]

    result = service.enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=ids, actor=None)

    assert result.enrolled == 3
    assert result.already_enrolled == 1
    assert result.skipped == {"do_not_contact": 1, "unsubscribed": 1, "bounced": 1, "complained": 0, "suppressed": 0,
                              "reenroll_not_allowed": 1, "converted": 0, "disqualified": 0, "active_elsewhere": 0}
    assert result.summary() == (
        "Enrolled 3, already enrolled 1, skipped 4 (do-not-contact 1, unsubscribed 1, bounced 1, "
        "re-enrollment not allowed 1)."
    )
    assert not Enrollment.objects.filter(contact=outsider).exists()
    new = Enrollment.objects.filter(contact__in=fresh)
    assert {e.current_step.order for e in new} == {1}
    assert all(e.next_run_at > timezone.now() + timedelta(days=1) for e in new)
    assert Activity.objects.filter(enrollment__in=new, kind="enrolled").count() == 3
    assert Activity.objects.filter(enrollment__in=new, kind="step_scheduled").count() == 3
    one = new.first()
    scheduled = Activity.objects.get(enrollment=one, kind="step_scheduled")
    # Worded as every schedule is (the single and the processor's paths too): the contact's time, labelled.
    local = one.next_run_at.astimezone(ZoneInfo(one.contact.timezone))
    assert scheduled.detail == (f"Step 1 (Email) due {day_text(local)}, {local:%H:%M} their time "
                                f"(New York, {local.tzname()})")
    assert scheduled.step_id == one.current_step_id
    from datetime import datetime
    assert datetime.fromisoformat(scheduled.data["next_run_at"]) == one.next_run_at
    assert Activity.objects.get(enrollment=one, kind="enrolled").detail == f"Enrolled in {sequence.name}"


def test_bulk_enrollment_counts_a_concurrent_duplicate_as_already_enrolled(tenant, sequence, monkeypatch):
    contact = ContactFactory(tenant=tenant)
    _enroll(tenant, sequence, contact)  # another request won the race
    real_rows = service._contact_rows

    def stale_rows(**kwargs):  # the classification ran before that enrollment committed
        rows = list(real_rows(**kwargs))
        for row in rows:
            row.has_open = False
        return _ListQuery(rows)

    monkeypatch.setattr(service, "_contact_rows", stale_rows)

    result = service.enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=[contact.pk], actor=None)

    assert (result.enrolled, result.already_enrolled) == (0, 1)
    assert Enrollment.objects.filter(contact=contact).count() == 1


class _ListQuery(list):
    def iterator(self, chunk_size=None):
        return iter(self)


def test_bulk_enrollment_refuses_a_draft_sequence(tenant, sequence):
    sequence.status = "draft"
    sequence.save()
    with pytest.raises(ValidationError):
        service.enrollments_bulk_create(tenant=tenant, sequence=sequence,
                                        contact_ids=[ContactFactory(tenant=tenant).pk], actor=None)


# --- pause / resume / unenroll ---------------------------------------------------------

def test_pause_resume_and_unenroll_each_write_an_activity(tenant, sequence, rep):
    enrollment = _enroll(tenant, sequence, ContactFactory(tenant=tenant))
    queued = OutboundMessage.objects.create(tenant=tenant, enrollment=enrollment, contact=enrollment.contact,
                                            idempotency_key="k1", to_address="x@example.com", state="queued")

    service.enrollment_pause(tenant=tenant, enrollment=enrollment, actor=rep)
    with pytest.raises(ValidationError, match="Only an active"):
        service.enrollment_pause(tenant=tenant, enrollment=enrollment, actor=rep)
    service.enrollment_resume(tenant=tenant, enrollment=enrollment, actor=rep)
    service.enrollment_unenroll(tenant=tenant, enrollment=enrollment, actor=rep)

    enrollment.refresh_from_db()
    queued.refresh_from_db()
    assert enrollment.status == "unenrolled"
    assert enrollment.exit_reason == "unenrolled by user"
    assert queued.state == "cancelled"
    kinds = list(Activity.objects.filter(enrollment=enrollment).order_by("id").values_list("kind", flat=True))
    assert kinds[-3:] == ["paused", "resumed", "exited"]


def test_single_actions_refuse_another_tenants_enrollment(tenant, other_tenant):
    theirs = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))
    for action in (service.enrollment_pause, service.enrollment_resume, service.enrollment_unenroll):
        with pytest.raises(ValidationError):
            action(tenant=tenant, enrollment=theirs, actor=None)
    theirs.refresh_from_db()
    assert theirs.status == "active"


def test_bulk_pause_resume_unenroll_ignore_other_tenants_ids(tenant, other_tenant, sequence):
    ours = [_enroll(tenant, sequence, ContactFactory(tenant=tenant)) for _ in range(3)]
    theirs = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))
    ids = [e.pk for e in ours] + [theirs.pk]

    assert service.enrollments_bulk_pause(tenant=tenant, enrollment_ids=ids, actor=None) == 3
    assert set(Enrollment.objects.filter(pk__in=[e.pk for e in ours]).values_list("status", flat=True)) == {"paused"}
    assert service.enrollments_bulk_resume(tenant=tenant, enrollment_ids=ids, actor=None) == 3
    assert service.enrollments_bulk_unenroll(tenant=tenant, enrollment_ids=ids, actor=None) == 3

    theirs.refresh_from_db()
    assert theirs.status == "active"
    assert Activity.objects.filter(enrollment__in=ours, kind="paused").count() == 3
    assert Activity.objects.filter(enrollment__in=ours, kind="resumed").count() == 3
    assert Activity.objects.filter(enrollment__in=ours, kind="exited").count() == 3
    assert not Activity.objects.filter(enrollment=theirs).exists()


def test_bulk_resume_makes_a_step_that_fell_due_while_paused_due_now(tenant, sequence):
    enrollment = _enroll(tenant, sequence, ContactFactory(tenant=tenant))
    service.enrollments_bulk_pause(tenant=tenant, enrollment_ids=[enrollment.pk], actor=None)
    Enrollment.objects.filter(pk=enrollment.pk).update(next_run_at=timezone.now() - timedelta(days=3))
    at = timezone.now()

    service.enrollments_bulk_resume(tenant=tenant, enrollment_ids=[enrollment.pk], actor=None, at=at)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.next_run_at) == ("active", at)


def test_bulk_resume_keeps_a_future_step_and_a_wait_as_they_were(tenant, sequence):
    later, waiting = (_enroll(tenant, sequence, ContactFactory(tenant=tenant)) for _ in range(2))
    future = timezone.now() + timedelta(days=2)
    Enrollment.objects.filter(pk=later.pk).update(status="paused", next_run_at=future)
    Enrollment.objects.filter(pk=waiting.pk).update(status="paused", next_run_at=None, waiting_on="approval")

    assert service.enrollments_bulk_resume(tenant=tenant, enrollment_ids=[later.pk, waiting.pk], actor=None) == 2

    later.refresh_from_db(); waiting.refresh_from_db()
    assert (later.status, later.next_run_at) == ("active", future)
    assert (waiting.status, waiting.next_run_at, waiting.waiting_on) == ("active", None, "approval")


# --- auto-enrollment -------------------------------------------------------------------

def test_auto_enrollment_enrolls_only_contacts_matching_every_rule_and_logs_it(tenant, sequence):
    hot_list = ContactListFactory(tenant=tenant)
    match = ContactFactory(tenant=tenant, lead_status="qualified", score_band="warm")
    hot_list.contacts.add(match)
    wrong_status = ContactFactory(tenant=tenant, lead_status="converted", score_band="warm")
    not_in_list = ContactFactory(tenant=tenant, lead_status="qualified", score_band="warm")
    replied = ContactFactory(tenant=tenant, lead_status="qualified", score_band="warm",
                             last_replied_at=timezone.now() - timedelta(days=2))
    dnc = ContactFactory(tenant=tenant, lead_status="qualified", score_band="warm", do_not_contact=True)
    busy = ContactFactory(tenant=tenant, lead_status="qualified", score_band="warm")
    other = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=other)
    _enroll(tenant, other, busy)
    hot_list.contacts.add(wrong_status, replied, dnc, busy)
    entry_rules_update(tenant=tenant, sequence=sequence, enabled=True, actor=None, rules={
        "lead_status": ["new", "qualified"], "score_band": ["warm"], "list_ids": [hot_list.pk],
        "no_active_enrollment": True, "no_reply_days": 14,
    })

    result = auto_enroll_sequence(tenant=tenant, sequence=sequence)

    assert result.enrolled == 1
    enrolled = Enrollment.objects.get(sequence=sequence)
    assert enrolled.contact == match and enrolled.enrolled_via == "auto"
    assert Activity.objects.filter(enrollment=enrolled, kind="auto_enrolled").exists()
    assert not_in_list.enrollments.count() == 0
    assert auto_enroll_sequence(tenant=tenant, sequence=sequence).enrolled == 0  # idempotent


def test_auto_enrollment_is_off_by_default_and_needs_a_rule(tenant, sequence):
    ContactFactory(tenant=tenant)
    assert sequence.auto_enroll_enabled is False
    assert auto_enroll_all() == {}
    with pytest.raises(ValidationError, match="at least one rule"):
        entry_rules_update(tenant=tenant, sequence=sequence, enabled=True, rules={}, actor=None)
    assert not Enrollment.objects.exists()


def test_the_periodic_task_runs_every_enabled_sequence(tenant, sequence):
    from contacts.tasks import auto_enroll_all as task

    ContactFactory(tenant=tenant, score_band="hot")
    ContactFactory(tenant=tenant, score_band="cold")
    entry_rules_update(tenant=tenant, sequence=sequence, enabled=True, rules={"score_band": ["hot"]}, actor=None)

    task()

    assert Enrollment.objects.filter(sequence=sequence).count() == 1
