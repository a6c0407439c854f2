"""How the enrollment page words a gate's times and days (the contact's local time)."""
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def local(when, zone):
    return f"{when.astimezone(zone):%a %d %b %Y, %H:%M}"


def days_text(days):
    days = sorted(days)
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{DAY_NAMES[days[0]]}–{DAY_NAMES[days[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in days) or "no day"
