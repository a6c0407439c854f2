"""How the enrollment page words a gate's times and days (the contact's local time, the
time the send window is about)."""
from scendcore.zones import their_time_text

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def local(when, zone):
    return their_time_text(when, zone)


def days_text(days):
    days = sorted(days)
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{DAY_NAMES[days[0]]}–{DAY_NAMES[days[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in days) or "no day"
