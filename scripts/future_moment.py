"""Print the moment the suite's second pass starts at (faketime's "@YYYY-MM-DD HH:MM:SS",
UTC): at least 400 days ahead, two days before New York's next DST change after that, at
23:58 there. Far enough ahead to expose a pinned date, close enough to a DST change that
a day delay is not 24 hours, and two minutes from the contacts' midnight."""
import sys
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


def dst_change_after(moment):
    """The first hour at or after `moment` whose UTC offset in New York differs from the hour before."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    while (hour + timedelta(hours=1)).astimezone(NEW_YORK).utcoffset() == hour.astimezone(NEW_YORK).utcoffset():
        hour += timedelta(hours=1)
    return hour + timedelta(hours=1)


def future_moment(now):
    change = dst_change_after(now + timedelta(days=400))
    day = change.astimezone(NEW_YORK).date() - timedelta(days=2)
    return datetime.combine(day, time(23, 58), tzinfo=NEW_YORK).astimezone(timezone.utc)


def offset_to(moment, now):
    """faketime's relative notation ("+N" seconds) for the distance from `now` to `moment`."""
    return f"{round((moment - now).total_seconds()):+d}"


if __name__ == "__main__":
    now = datetime.now(timezone.utc)
    if sys.argv[1:2] == ["--offset"]:  # --offset "YYYY-MM-DD HH:MM:SS" (UTC)
        moment = datetime.strptime(sys.argv[2], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        print(offset_to(moment, now))
    else:
        print(future_moment(now).strftime("@%Y-%m-%d %H:%M:%S"))
