"""Resuming a sequence continues each enrollment without a burst of late steps."""
from datetime import time, timedelta

import pytest

from messaging.models import OutboundMessage
from sequences.engine.control import STAGGER, sequence_resume_schedule
from sequences.models import Activity, Enrollment

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


@pytest.fixture
def paused_with_backlog(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    overdue = [due_enrollment(sequence, first, at=WEDNESDAY - timedelta(days=3)) for _ in range(5)]
    future = due_enrollment(sequence, first, at=WEDNESDAY + timedelta(days=2))
    sequence.status = "paused"
    sequence.save()
    sweep_inline()  # the processor parks what fell due while paused
    sequence.status = "active"
    sequence.save()
    return sequence, overdue, future


def test_resuming_spreads_overdue_steps_from_now_instead_of_firing_them_at_once(tenant, paused_with_backlog):
    sequence, overdue, future = paused_with_backlog

    moved = sequence_resume_schedule(tenant=tenant, sequence=sequence, actor=None, now=WEDNESDAY)

    assert moved == 5
    times = sorted(Enrollment.objects.filter(pk__in=[e.pk for e in overdue]).values_list("next_run_at", flat=True))
    assert times == [WEDNESDAY + STAGGER * n for n in range(5)]
    assert set(Enrollment.objects.filter(sequence=sequence).values_list("lease_owner", flat=True)) == {""}
    future.refresh_from_db()
    assert future.next_run_at == WEDNESDAY + timedelta(days=2) - timedelta(minutes=1)
    assert Activity.objects.filter(kind="step_scheduled", data__resumed=True).count() == 5
    claimed, _ = sweep_inline(now=WEDNESDAY)
    assert claimed == 1
    assert OutboundMessage.objects.count() == 1


def test_resuming_with_send_overdue_now_makes_them_all_due_now(tenant, paused_with_backlog):
    sequence, overdue, _ = paused_with_backlog

    sequence_resume_schedule(tenant=tenant, sequence=sequence, actor=None, send_overdue_now=True, now=WEDNESDAY)
    sweep_inline(now=WEDNESDAY)

    assert OutboundMessage.objects.count() == 5


def test_resumed_steps_respect_the_contacts_send_window(tenant, paused_with_backlog):
    sequence, overdue, _ = paused_with_backlog
    step = overdue[0].current_step
    step.window_days, step.window_start, step.window_end = [0, 1, 2, 3, 4], time(13), time(17)
    step.save()

    sequence_resume_schedule(tenant=tenant, sequence=sequence, actor=None, now=WEDNESDAY)  # 11:00 in New York

    first = min(Enrollment.objects.filter(pk__in=[e.pk for e in overdue]).values_list("next_run_at", flat=True))
    assert first == WEDNESDAY + timedelta(hours=2)  # 13:00 EDT


def test_resuming_from_the_builder_spreads_overdue_steps_instead_of_a_burst(manager_client, tenant):
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from sequences.models import Enrollment
    from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

    sequence = SequenceFactory(tenant=tenant, status="paused")
    step = StepFactory(sequence=sequence)
    long_ago = timezone.now() - timedelta(days=2)
    for _ in range(3):
        EnrollmentFactory(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant),
                          current_step=step, next_run_at=long_ago)

    response = manager_client.post(reverse("sequences:sequence-resume", args=[sequence.pk]))

    assert response.status_code == 302
    due = sorted(Enrollment.objects.filter(sequence=sequence).values_list("next_run_at", flat=True))
    assert due[0] >= long_ago + timedelta(days=1)
    assert len(set(due)) == 3  # staggered, not all at one instant


def test_resuming_with_send_overdue_now_makes_them_all_due_at_once(manager_client, tenant):
    from datetime import timedelta

    from django.urls import reverse
    from django.utils import timezone

    from sequences.models import Enrollment
    from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

    sequence = SequenceFactory(tenant=tenant, status="paused")
    step = StepFactory(sequence=sequence)
    for _ in range(3):
        EnrollmentFactory(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant),
                          current_step=step, next_run_at=timezone.now() - timedelta(days=2))

    manager_client.post(reverse("sequences:sequence-resume", args=[sequence.pk]), {"send_overdue_now": "on"})

    assert len(set(Enrollment.objects.filter(sequence=sequence).values_list("next_run_at", flat=True))) == 1


def test_a_batch_runs_on_a_connection_that_resumed_a_sequence_first(tenant, other_tenant):
    # Both write enrollments through a staged copy, each with its own columns; the
    # connection keeps its temporary tables between transactions.
    sequence, (first, *_) = running_sequence(tenant)
    overdue = due_enrollment(sequence, first, at=WEDNESDAY - timedelta(days=3))
    outsider_sequence, (outsider_first, *_) = running_sequence(other_tenant)
    outsider = due_enrollment(outsider_sequence, outsider_first)

    assert sequence_resume_schedule(tenant=tenant, sequence=sequence, actor=None, now=WEDNESDAY) == 1
    claimed, reports = sweep_inline(now=WEDNESDAY)

    assert claimed == 2 and sum(report.get("executed", 0) for report in reports) == 2
    assert OutboundMessage.objects.filter(enrollment__in=[overdue, outsider]).count() == 2
    overdue.refresh_from_db()
    assert overdue.current_step_id != first.pk
