"""One cell's value, cleaned the way the import stores it."""
import re
from functools import lru_cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError


PHONE_NOISE = re.compile(r"[\s().\-/]")
E164 = re.compile(r"\+[1-9]\d{6,14}")


def normalize_phone(raw):
    """E.164 form of `raw` ("+1 (415) 555-0100" → "+14155550100"); "" stays "".
    A number without a country code is refused rather than guessed."""
    value = (raw or "").strip()
    if not value:
        return ""
    compact = PHONE_NOISE.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not E164.fullmatch(compact):
        raise ValidationError(
            f"phone “{value}” is not a valid international number (E.164, e.g. +14155550100)"
        )
    return compact


@lru_cache(maxsize=1)
def timezone_names():
    return frozenset(available_timezones())


def choice_of(value, choices, label):
    lowered = value.strip().lower()
    for key, text in choices:
        if lowered in (key, text.lower()):
            return key
    raise ValidationError(f"unknown {label} “{value.strip()}” (use one of: {', '.join(k for k, _ in choices)})")


class RowError(Exception):
    pass
