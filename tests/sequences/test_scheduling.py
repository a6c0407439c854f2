"""Due times: delays, business days, jitter and send windows in the contact's zone."""
from datetime import datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from sequences.scheduling import defer_into_window, next_run_at

NY = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def tenant(**kw):
    base = dict(default_timezone="UTC", send_window_enabled=False, default_window_days=[0, 1, 2, 3, 4],
                default_window_start=time(9), default_window_end=time(17))
    return SimpleNamespace(**{**base, **kw})


def step(**kw):
    base = dict(delay_value=0, delay_unit="days", business_days_only=False, jitter_minutes=0,
                window_days=None, window_start=None, window_end=None)
    return SimpleNamespace(**{**base, **kw})


contact_ny = SimpleNamespace(timezone="America/New_York")


def test_a_day_delay_keeps_the_local_wall_clock_across_a_dst_change():
    # Saturday 2026-03-07 10:00 in New York (EST); DST starts Sunday 03-08.
    after = datetime(2026, 3, 7, 10, 0, tzinfo=NY)
    due = next_run_at(step=step(delay_value=2), after=after, contact=contact_ny, tenant=tenant())
    assert due.astimezone(NY) == datetime(2026, 3, 9, 10, 0, tzinfo=NY)
    assert due.utcoffset().total_seconds() == 0  # stored in UTC
    assert due == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # EDT is UTC-4


def test_an_hour_delay_counts_elapsed_time_even_across_a_dst_change():
    after = datetime(2026, 3, 8, 1, 30, tzinfo=NY)  # 30 minutes before clocks jump
    due = next_run_at(step=step(delay_value=1, delay_unit="hours"), after=after,
                      contact=contact_ny, tenant=tenant())
    assert due == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_business_days_only_skips_the_weekend_from_a_friday_evening():
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=NY)
    due = next_run_at(step=step(delay_value=1, business_days_only=True), after=friday_evening,
                      contact=contact_ny, tenant=tenant())
    assert due.astimezone(NY) == datetime(2026, 11, 23, 18, 0, tzinfo=NY)  # Monday


def test_a_due_time_after_the_window_closes_moves_to_the_next_opening():
    s = step(window_days=[0, 1, 2, 3, 4], window_start=time(9), window_end=time(17))
    friday_1700 = datetime(2026, 11, 20, 17, 0, tzinfo=NY)  # the window's end is exclusive
    due = next_run_at(step=s, after=friday_1700, contact=contact_ny, tenant=tenant())
    assert due.astimezone(NY) == datetime(2026, 11, 23, 9, 0, tzinfo=NY)


def test_a_due_time_inside_the_window_is_kept():
    s = step(window_days=[0, 1, 2, 3, 4], window_start=time(9), window_end=time(17))
    friday_1659 = datetime(2026, 11, 20, 16, 59, tzinfo=NY)
    assert next_run_at(step=s, after=friday_1659, contact=contact_ny, tenant=tenant()) == friday_1659


def test_the_tenant_default_window_applies_only_when_enabled():
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=NY)
    assert next_run_at(step=step(), after=sunday, contact=contact_ny, tenant=tenant()) == sunday
    due = next_run_at(step=step(), after=sunday, contact=contact_ny, tenant=tenant(send_window_enabled=True))
    assert due.astimezone(NY) == datetime(2026, 11, 23, 9, 0, tzinfo=NY)


def test_jitter_stays_within_its_bounds_and_repeats_for_the_same_seed():
    after = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    s = step(delay_value=1, delay_unit="hours", jitter_minutes=30)
    times = {next_run_at(step=s, after=after, contact=contact_ny, tenant=tenant(), seed=f"e{n}") for n in range(50)}
    assert len(times) > 1
    for due in times:
        assert abs((due - datetime(2026, 11, 23, 13, 0, tzinfo=UTC)).total_seconds()) <= 30 * 60
    again = next_run_at(step=s, after=after, contact=contact_ny, tenant=tenant(), seed="e7")
    assert again == next_run_at(step=s, after=after, contact=contact_ny, tenant=tenant(), seed="e7")


def test_an_unknown_contact_timezone_falls_back_to_the_tenants():
    s = step(window_days=[0, 1, 2, 3, 4], window_start=time(9), window_end=time(17))
    when = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 in New York, 13:00 in UTC
    nowhere = SimpleNamespace(timezone="Not/AZone")
    assert defer_into_window(when=when, step=s, contact=nowhere, tenant=tenant(default_timezone="America/New_York")) \
        == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def test_a_window_with_no_allowed_day_is_an_error_not_a_silent_skip():
    s = step(window_days=[5, 6], window_start=time(9), window_end=time(17), business_days_only=True)
    with pytest.raises(ValueError):
        next_run_at(step=s, after=datetime(2026, 11, 23, tzinfo=UTC), contact=contact_ny, tenant=tenant())
