"""The one rule for showing a moment: in the viewer's zone (their own setting, else the
workspace's), and, where a send window makes it matter, the contact's local time beside
it. Both always carry a label a person reads ("Los Angeles, PST"), never a raw IANA key."""
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

UTC = ZoneInfo("UTC")


def zone_named(*names):
    """The first of `names` that is a zone this machine knows, else UTC. Stored names can
    predate a tzdata update, so an unknown one falls through instead of raising."""
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


def viewer_zone(membership):
    """The zone a member reads times in: their own setting, else the workspace's."""
    if membership is None:
        return UTC
    return zone_named(membership.timezone, membership.tenant.default_timezone)


def place_name(zone):
    """"America/Los_Angeles" → "Los Angeles"; "UTC" stays "UTC"."""
    return str(zone).rsplit("/", 1)[-1].replace("_", " ")


def zone_label(zone, at=None):
    """"Los Angeles, PST": the place and the abbreviation in force at `at` (default now),
    which differs across a daylight-saving change."""
    abbreviation = (at or timezone.now()).astimezone(zone).tzname()
    place = place_name(zone)
    return place if abbreviation == place else f"{place}, {abbreviation}"


def _day(local, now_local):
    day = f"{local:%a} {local.day} {local:%b}"
    return day if local.year == now_local.year else f"{day} {local.year}"


def when_text(value, zone):
    """"Tue 3 Dec, 10:42 CET": `value` in `zone`, the year only when it is not this one."""
    local = value.astimezone(zone)
    return f"{_day(local, timezone.now().astimezone(zone))}, {local:%H:%M} {local.tzname()}"


def their_time_text(value, zone, *, beside_zone=None):
    """"13:49 their time (Los Angeles, PST)": `value` in the contact's `zone`. Beside a
    time in the viewer's `beside_zone` the day is named only when it is not the same day
    there, so the two never read as one day when they are not; alone (stored in activity
    text, worded in a hold) the day is always named."""
    local = value.astimezone(zone)
    text = f"{local:%H:%M}"
    if beside_zone is None or local.date() != value.astimezone(beside_zone).date():
        text = f"{_day(local, timezone.now().astimezone(zone))}, {text}"
    return f"{text} their time ({zone_label(zone, value)})"
