"""The one way a page shows a moment: `{% when %}` in the viewer's zone, and
`{% contact_time %}` for the contact's local time, both labelled for a person."""
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.template import Context, Template
from django.utils import timezone

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def _next(month, day, hour):
    """The next `month`/`day` at `hour` UTC after now: derived from today, never pinned."""
    now = timezone.now()
    moment = datetime(now.year, month, day, hour, tzinfo=dt_timezone.utc)
    return moment if moment > now else moment.replace(year=now.year + 1)


def _year_suffix(moment, zone):
    """How `when` ends the day: with the year only when it is not this year there."""
    return "" if moment.astimezone(zone).year == timezone.now().astimezone(zone).year else f" {moment.year}"


def _render(source, zone, **context):
    with timezone.override(zone):
        return Template("{% load zones %}" + source).render(Context(context)).strip()


def test_when_shows_a_winter_moment_in_the_viewers_zone_with_its_abbreviation():
    moment = _next(1, 15, 12)  # 13:00 in Berlin, standard time
    expected = f"{moment:%a} 15 Jan{_year_suffix(moment, BERLIN)}, 13:00 CET"
    assert _render("{% when moment %}", BERLIN, moment=moment) == expected


def test_when_follows_daylight_saving_time_in_the_viewers_zone():
    moment = _next(7, 15, 12)  # 14:00 in Berlin, summer time
    expected = f"{moment:%a} 15 Jul{_year_suffix(moment, BERLIN)}, 14:00 CEST"
    assert _render("{% when moment %}", BERLIN, moment=moment) == expected


def test_when_names_no_year_for_a_moment_this_year():
    moment = timezone.now() + timedelta(minutes=5)
    local = moment.astimezone(BERLIN)
    if local.year != timezone.now().astimezone(BERLIN).year:  # five minutes before New Year
        moment -= timedelta(minutes=10)
        local = moment.astimezone(BERLIN)
    assert _render("{% when moment %}", BERLIN, moment=moment) == (
        f"{local:%a} {local.day} {local:%b}, {local:%H:%M} {local.tzname()}")


def test_when_of_nothing_is_a_dash():
    assert _render("{% when moment %}", BERLIN, moment=None) == "—"


def test_contact_time_is_the_contacts_clock_labelled_with_city_and_abbreviation():
    moment = _next(1, 15, 21)  # 22:00 in Berlin, 13:00 in Los Angeles: the same day in both
    contact = SimpleNamespace(timezone="America/Los_Angeles")
    assert _render("{% contact_time moment contact %}", BERLIN, moment=moment, contact=contact) == (
        "13:00 their time (Los Angeles, PST)")


def test_contact_time_names_the_day_when_it_is_not_the_viewers_day():
    moment = _next(7, 15, 2)  # 04:00 on the 15th in Berlin, still 19:00 on the 14th in Los Angeles
    contact = SimpleNamespace(timezone="America/Los_Angeles")
    day_before = moment.astimezone(LOS_ANGELES)
    assert _render("{% contact_time moment contact %}", BERLIN, moment=moment, contact=contact) == (
        f"{day_before:%a} 14 Jul{_year_suffix(day_before, LOS_ANGELES)}, 19:00 their time (Los Angeles, PDT)")


def test_a_contact_without_a_zone_reads_in_the_workspaces_zone():
    moment = _next(1, 15, 18)  # 13:00 in New York
    contact = SimpleNamespace(timezone="")
    workspace = SimpleNamespace(default_timezone="America/New_York")
    rendered = _render("{% contact_time moment contact %}", ZoneInfo("America/New_York"),
                       moment=moment, contact=contact, current_tenant=workspace)
    assert rendered == "13:00 their time (New York, EST)"


def test_a_zone_name_reads_as_a_place_not_an_iana_key():
    with timezone.override(BERLIN):
        rendered = Template("{% load zones %}{{ name|zone_name }}").render(Context({"name": "America/Los_Angeles"}))
    assert rendered in ("Los Angeles, PST", "Los Angeles, PDT")
    assert _render("{{ name|zone_name }}", BERLIN, name="UTC") == "UTC"
