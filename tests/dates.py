"""Dates for tests that act at the real `now`: derived from today, never written down,
so a test holds on any day the suite runs (a fixed date passes until the calendar
overtakes it)."""
from datetime import datetime, timedelta

from django.utils import timezone

MONDAY = 0


def day_text(local):
    """How pages and activity rows name the day of `local`: "Tue 3 Dec", with the year
    only when it is not the current year in that zone."""
    day = f"{local:%a} {local.day} {local:%b}"
    return day if local.year == timezone.now().astimezone(local.tzinfo).year else f"{day} {local.year}"


def next_weekday_at(weekday, at, zone, *, after=None):
    """The first `weekday` (Monday=0) at local time `at` in `zone` that is later than
    `after` (default: now)."""
    after = (after or timezone.now()).astimezone(zone)
    day = after.date() + timedelta(days=(weekday - after.weekday()) % 7)
    moment = datetime.combine(day, at, tzinfo=zone)
    return moment if moment > after else datetime.combine(day + timedelta(days=7), at, tzinfo=zone)

