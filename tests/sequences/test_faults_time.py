"""Steps due around awkward moments fire once, at the right local time (controllable
clock: every sweep runs at an explicit `now`)."""
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone

import pytest

from messaging.models import OutboundMessage
from sequences.models import Enrollment

from .engine_helpers import due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db
UTC = dt_timezone.utc


def messages_for(enrollment, step):
    return OutboundMessage.objects.filter(enrollment=enrollment, step=step).count()


def set_window(step, days=(0, 1, 2, 3, 4, 5, 6), start=time(9), end=time(17), **fields):
    step.window_days, step.window_start, step.window_end = list(days), start, end
    for name, value in fields.items():
        setattr(step, name, value)
    step.save()


def test_a_daily_step_across_the_spring_dst_change_fires_once_at_the_same_local_time(tenant):
    tenant.frequency_cap_hours = 12  # the daily cadence is the point here, not the cap
    tenant.save()
    sequence, (first, second, _) = running_sequence(tenant, delay_days=1)
    set_window(second)
    saturday_10_est = datetime(2025, 3, 8, 15, 0, tzinfo=UTC)
    enrollment = due_enrollment(sequence, first, at=saturday_10_est)
    sweep_inline(now=saturday_10_est)
    # Delivered at once: the follow-up's day counts from the send.
    OutboundMessage.objects.filter(enrollment=enrollment, step=first).update(state="sent", sent_at=saturday_10_est)
    enrollment.refresh_from_db()
    sunday_10_edt = datetime(2025, 3, 9, 14, 0, tzinfo=UTC)  # clocks went forward overnight
    assert enrollment.next_run_at == sunday_10_edt

    early, _ = sweep_inline(now=sunday_10_edt - timedelta(minutes=1))
    on_time, _ = sweep_inline(now=sunday_10_edt)
    again, _ = sweep_inline(now=sunday_10_edt + timedelta(minutes=5))

    assert (early, on_time, again) == (0, 1, 0)
    assert messages_for(enrollment, second) == 1


def test_a_step_at_the_windows_closing_edge_fires_inside_it_and_one_a_moment_late_waits_for_the_next_opening(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    set_window(first)
    closing = datetime(2025, 6, 11, 21, 0, tzinfo=UTC)  # 17:00 EDT
    inside = due_enrollment(sequence, first, at=closing - timedelta(seconds=59))
    sweep_inline(now=closing - timedelta(seconds=1))
    late = due_enrollment(sequence, first, at=closing)

    sweep_inline(now=closing)

    late.refresh_from_db()
    next_opening = datetime(2025, 6, 12, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert messages_for(inside, first) == 1
    assert messages_for(late, first) == 0
    assert late.next_run_at == next_opening
    assert sweep_inline(now=next_opening - timedelta(seconds=1))[0] == 0
    assert sweep_inline(now=next_opening)[0] == 1
    assert messages_for(late, first) == 1


def test_a_business_days_step_missed_on_friday_evening_fires_once_on_monday_morning(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    set_window(first, days=(0, 1, 2, 3, 4), business_days_only=True)
    friday_1830 = datetime(2025, 6, 13, 22, 30, tzinfo=UTC)
    enrollment = due_enrollment(sequence, first, at=friday_1830)

    sweep_inline(now=friday_1830)
    enrollment.refresh_from_db()
    monday_9 = datetime(2025, 6, 16, 13, 0, tzinfo=UTC)
    assert enrollment.next_run_at == monday_9
    saturday, _ = sweep_inline(now=datetime(2025, 6, 14, 15, 0, tzinfo=UTC))
    sunday, _ = sweep_inline(now=datetime(2025, 6, 15, 15, 0, tzinfo=UTC))
    monday, _ = sweep_inline(now=monday_9)
    later, _ = sweep_inline(now=monday_9 + timedelta(hours=1))

    assert (saturday, sunday, monday, later) == (0, 0, 1, 0)
    assert messages_for(enrollment, first) == 1


def test_a_one_business_day_delay_after_a_friday_step_lands_on_monday_at_the_same_local_time(tenant):
    sequence, (first, second, _) = running_sequence(tenant, delay_days=1)
    second.business_days_only = True
    second.save()
    friday_10 = datetime(2025, 6, 13, 14, 0, tzinfo=UTC)
    enrollment = due_enrollment(sequence, first, at=friday_10)

    sweep_inline(now=friday_10)

    enrollment.refresh_from_db()
    assert enrollment.current_step == second
    assert enrollment.next_run_at == datetime(2025, 6, 16, 14, 0, tzinfo=UTC)
    assert Enrollment.objects.get(pk=enrollment.pk).status == "active"
