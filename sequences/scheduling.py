"""When a step is due: delay, business days, jitter and send window, computed in the
contact's timezone (DST-safe) and returned in UTC. Pure functions: no database."""
import random
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from scendcore.zones import zone_named

WEEKEND = {5, 6}
# Nodes that contact nobody and are resolved the moment they are due: a send window
# (the tenant's default above all) would hold a split or a tag change until it opens.
UNWINDOWED_KINDS = {"branch", "split", "action", "exit"}
WAIT = "wait"  # StepKind.WAIT (this module stays free of the models)
TIMEOUT_UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


def contact_zone(contact, tenant):
    return zone_named(getattr(contact, "timezone", ""), getattr(tenant, "default_timezone", ""))


def step_window(step, tenant):
    """(days, start, end) of the step's send window, or None when it may fire any time."""
    if step.window_days is not None or step.window_start is not None:
        days = step.window_days if step.window_days is not None else tenant.default_window_days
        start = step.window_start or tenant.default_window_start
        end = step.window_end or tenant.default_window_end
        return set(days), start, end
    if tenant.send_window_enabled:
        return set(tenant.default_window_days), tenant.default_window_start, tenant.default_window_end
    return None


def _normalize(local):
    # Wall-clock arithmetic can land in a DST gap; a round trip through UTC fixes it.
    return datetime.fromtimestamp(local.timestamp(), local.tzinfo)


def add_delay(after_local, step):
    value, unit = step.delay_value, step.delay_unit
    if unit == "days":
        if step.business_days_only:
            day, left = after_local, value
            while left > 0:
                day = day + timedelta(days=1)
                if day.weekday() not in WEEKEND:
                    left -= 1
            return _normalize(day)
        return _normalize(after_local + timedelta(days=value))  # same wall-clock time
    seconds = value * (3600 if unit == "hours" else 60)
    return (after_local.astimezone(ZoneInfo("UTC")) + timedelta(seconds=seconds)).astimezone(after_local.tzinfo)


def skip_weekend(local):
    while local.weekday() in WEEKEND:
        local = _normalize(local + timedelta(days=1))
    return local


def into_window(local, days, start, end, business_days_only=False):
    """The first moment at or after `local` inside the window."""
    allowed = set(days) - (WEEKEND if business_days_only else set())
    if not allowed:
        raise ValueError("The send window has no days on which it may send.")
    candidate = local
    for _ in range(15):
        if candidate.weekday() in allowed:
            opens = _at(candidate, start)
            closes = _at(candidate, end)
            if candidate < opens:
                return opens
            if candidate < closes:
                return candidate
        candidate = _at(candidate + timedelta(days=1), time(0, 0))
    raise ValueError("No opening found in the send window.")


def _at(local, wall_time):
    return _normalize(local.replace(hour=wall_time.hour, minute=wall_time.minute, second=0, microsecond=0))


def wait_mode(step):
    """"duration", "until" or "event" for a wait node, else ""."""
    if getattr(step, "kind", "") != WAIT:
        return ""
    config = step.config if isinstance(step.config, dict) else {}
    return config.get("mode") or "duration"


def waits_for_event(step):
    return wait_mode(step) == "event"


def parse_wall_time(text):
    """"09:00" → time(9, 0); None when it is not a time of day."""
    try:
        hours, minutes = str(text).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        return None


def next_weekday_time(local, weekdays, wall_time):
    """The first moment at or after `local` that falls on one of `weekdays` (Monday=0) at
    `wall_time`, in `local`'s zone."""
    days = {int(day) for day in weekdays}
    for offset in range(8):
        candidate = _at(local + timedelta(days=offset), wall_time)
        if candidate.weekday() in days and candidate >= local:
            return candidate
    raise ValueError("A wait until needs at least one weekday.")


def timeout_delta(timeout):
    timeout = timeout if isinstance(timeout, dict) else {}
    return timedelta(seconds=int(timeout.get("value") or 0) * TIMEOUT_UNITS.get(timeout.get("unit"), 86400))


def _wait_end(step, local):
    """When a wait node entered at `local` (after its delay) is due: a duration ends
    there, a wait until at the next chosen weekday and time, a wait for an event at its
    timeout. No send window: a wait sends nothing."""
    mode, config = wait_mode(step), step.config or {}
    if mode == "until":
        return next_weekday_time(local, config.get("weekdays") or (), parse_wall_time(config.get("time")) or time(9))
    if mode == "event":
        return (local.astimezone(ZoneInfo("UTC")) + timeout_delta(config.get("timeout"))).astimezone(local.tzinfo)
    return local


def next_run_at(*, step, after, contact, tenant, seed=None):
    """When `step` is due, counting its delay from `after` (enrollment or the previous
    step's completion). `seed` makes jitter repeatable for the same enrollment/step. A
    wait node is due when its wait ends (see _wait_end)."""
    zone = contact_zone(contact, tenant)
    local = add_delay(after.astimezone(zone), step)
    if getattr(step, "kind", "") == WAIT:
        if step.business_days_only:
            local = skip_weekend(local)
        return _wait_end(step, local).astimezone(dt_timezone.utc)
    if step.jitter_minutes:
        rng = random.Random(seed)
        offset = rng.uniform(-step.jitter_minutes, step.jitter_minutes)
        local = max(local + timedelta(minutes=offset), after.astimezone(zone))
    if step.business_days_only:
        local = skip_weekend(local)
    window = step_window(step, tenant) if getattr(step, "kind", "") not in UNWINDOWED_KINDS else None
    if window:
        local = into_window(local, *window, business_days_only=step.business_days_only)
    return local.astimezone(dt_timezone.utc)


def defer_into_window(*, when, step, contact, tenant):
    """`when` itself if the step may fire then, else the next opening (for send-time gates)."""
    zone = contact_zone(contact, tenant)
    local = when.astimezone(zone)
    if step.business_days_only:
        local = skip_weekend(local)
    window = step_window(step, tenant)
    if window:
        local = into_window(local, *window, business_days_only=step.business_days_only)
    return local.astimezone(dt_timezone.utc)
