"""Setting a sequence's exit rules (seed 002): what a reply, a meeting, a converted or
disqualified lead and a stretch without engagement do to its enrollments. The rules are
read in one place, sequences.flow.rules; this only validates and writes them."""
from django.core.exceptions import ValidationError
from django.db import transaction

from ..flow import rules
from .versions import version_policy_set

MAX_NO_ENGAGEMENT_DAYS = 365


def exit_rules_clean(values):
    """The stored form of `values`: known keys only, each valid; a key left out (or
    None / "") keeps the behaviour from before exit rules, so {} is exactly that."""
    if not isinstance(values, dict):
        raise ValidationError("Exit rules are an object.")
    unknown = set(values) - {"reply", "meeting", "conversion", "disqualification", "no_engagement_days"}
    if unknown:
        raise ValidationError(f"Unknown exit rules: {', '.join(sorted(unknown))}.")
    cleaned = {}
    if values.get("reply"):
        if values["reply"] not in rules.REPLY_CHOICES:
            raise ValidationError({"reply": "On a reply: pause, exit, exit on a positive reply, or nothing."})
        cleaned["reply"] = values["reply"]
    if values.get("meeting"):
        if values["meeting"] not in rules.MEETING_CHOICES:
            raise ValidationError({"meeting": "On a booked meeting: pause, exit, or nothing."})
        cleaned["meeting"] = values["meeting"]
    for key in ("conversion", "disqualification"):
        if values.get(key) is not None:
            if not isinstance(values[key], bool):
                raise ValidationError({key: "Yes or no."})
            if values[key] is False:  # True is the behaviour without the rule
                cleaned[key] = False
    days = values.get("no_engagement_days")
    if days not in (None, ""):
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_NO_ENGAGEMENT_DAYS:
            raise ValidationError({"no_engagement_days": f"Between 1 and {MAX_NO_ENGAGEMENT_DAYS} days."})
        cleaned["no_engagement_days"] = days
    return cleaned


@transaction.atomic
def exit_rules_set(*, tenant, sequence, values, actor):
    """Replace the exit rules of the sequence's current version, and of its draft if it
    has one (see goals_set: they apply at once, and a publish keeps them). Returns the
    version."""
    if sequence.tenant_id != tenant.pk:
        raise ValidationError("That sequence does not exist.")
    cleaned = exit_rules_clean(values)
    return version_policy_set(tenant=tenant, sequence=sequence, actor=actor, field="exit_rules", value=cleaned)
