"""The enrollment state machine every part of the app goes through."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from sequences import lifecycle
from sequences.models import Activity
from tests.factories import EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_step_enrollment(tenant):
    sequence = SequenceFactory(tenant=tenant)
    first = StepFactory(sequence=sequence, order=1, delay_value=0)
    second = StepFactory(sequence=sequence, order=2, delay_value=3)
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, current_step=first)
    return enrollment, first, second


def test_completing_a_step_schedules_the_next_after_its_delay(two_step_enrollment):
    enrollment, first, second = two_step_enrollment
    # A day delay keeps the contact's wall-clock time (3 days can be 71 or 73 hours across
    # a DST change), so the expectation is written in their zone, at noon, which no DST
    # change skips.
    zone = ZoneInfo(enrollment.contact.timezone)
    today = timezone.now().astimezone(zone).date()
    done_at = datetime.combine(today, time(12), tzinfo=zone)

    lifecycle.step_completed(enrollment=enrollment, at=done_at)

    enrollment.refresh_from_db()
    assert enrollment.current_step == second
    assert enrollment.next_run_at == datetime.combine(today + timedelta(days=3), time(12), tzinfo=zone)
    kinds = list(Activity.objects.filter(enrollment=enrollment).values_list("kind", flat=True))
    assert sorted(kinds) == ["step_executed", "step_scheduled"]


def test_completing_the_last_step_completes_the_enrollment(two_step_enrollment):
    enrollment, first, second = two_step_enrollment
    enrollment.current_step = second

    lifecycle.step_completed(enrollment=enrollment)

    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.next_run_at) == ("completed", None)
    assert Activity.objects.filter(enrollment=enrollment, kind="completed").exists()


def test_resume_brings_an_overdue_step_to_now_without_replaying_missed_ones(two_step_enrollment):
    enrollment, first, second = two_step_enrollment
    enrollment.next_run_at = timezone.now() - timedelta(days=10)
    enrollment.save()
    lifecycle.pause(enrollment=enrollment, reason="manual")
    now = timezone.now()

    lifecycle.resume(enrollment=enrollment, at=now)

    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert enrollment.current_step == first
    assert enrollment.next_run_at == now


def test_exit_is_final_and_recorded_once(two_step_enrollment):
    enrollment, *_ = two_step_enrollment

    assert lifecycle.exit_enrollment(enrollment=enrollment, reason="bounced") is True
    assert lifecycle.exit_enrollment(enrollment=enrollment, reason="again") is False

    assert Activity.objects.filter(enrollment=enrollment, kind="exited").count() == 1
    assert lifecycle.resume(enrollment=enrollment) is False


def test_locked_takes_the_row_lock_even_with_no_current_step(tenant):
    from django.db import transaction

    enrollment = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant), current_step=None)
    with transaction.atomic():
        assert lifecycle.locked(enrollment.pk, tenant_id=tenant.pk) == enrollment


def test_locked_does_not_find_another_tenants_enrollment(tenant, other_tenant):
    from django.db import transaction

    from sequences.models import Enrollment

    theirs = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))
    with transaction.atomic(), pytest.raises(Enrollment.DoesNotExist):
        lifecycle.locked(theirs.pk, tenant_id=tenant.pk)
