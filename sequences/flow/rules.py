"""A sequence version's exit rules and goals, read in one place: the reactions to a
recorded fact (services.reactions, services.goals) and the processor's re-check before
each node (engine.execute) both ask these functions, so the two cannot disagree.

Exit rules (SequenceVersion.exit_rules) are seed 002's: {"reply": "pause"|"exit"|
"exit_positive"|"off", "meeting": "pause"|"exit"|"off", "conversion": bool,
"disqualification": bool, "no_engagement_days": int|None}. A key left out keeps the
behaviour sequences had before exit rules existed: a reply or a meeting pauses when the
sequence's stop_on_reply / stop_on_meeting says so, a converted or disqualified lead
exits, and engagement is not watched. So {} is exactly that behaviour.

Goals (SequenceVersion.goals): [{"key", "name", "condition": {"kind": "meeting_booked"}
| {"kind": "lead_status", "in": [..]} | {"kind": "custom_event", "name": str} |
{"kind": "clicked", "link_contains": str}, "action": "exit"|"move", "sequence": id}].
"""
from dataclasses import dataclass

REPLY_CHOICES = ("pause", "exit", "exit_positive", "off")
MEETING_CHOICES = ("pause", "exit", "off")
GOAL_KINDS = ("meeting_booked", "lead_status", "custom_event", "clicked")
GOAL_ACTIONS = ("exit", "move")
POSITIVE = "positive"
# The contact facts whose recording can reach a goal of each kind.
GOAL_FACTS = {"meeting_booked": "meeting_booked", "lead_status": "status_changed", "clicked": "clicked",
              "custom_event": "custom"}


@dataclass(frozen=True)
class ExitRules:
    reply: str
    # With "exit_positive": whether the other replies pause (the sequence's stop_on_reply).
    pause_other_replies: bool
    meeting: str
    conversion: bool
    disqualification: bool
    no_engagement_days: int | None

    def on_reply(self, intent=""):
        """What a reply of this intent does: "exit", "pause" or "" (nothing). Exiting
        only on a positive reply leaves every other reply to the pause rule the sequence
        had (stop_on_reply), so a "not now" still stops the messages until a rep looks."""
        if self.reply == "exit" or (self.reply == "exit_positive" and intent == POSITIVE):
            return "exit"
        if self.reply == "pause" or (self.reply == "exit_positive" and self.pause_other_replies):
            return "pause"
        return ""

    def on_meeting(self):
        return "" if self.meeting == "off" else self.meeting

    def ends_lead(self, lead_status):
        """The exit reason for a lead in this status, or "" when the rules let it go on."""
        if lead_status == "converted" and self.conversion:
            return "converted"
        if lead_status == "disqualified" and self.disqualification:
            return "disqualified"
        return ""


def exit_rules_of(rules, *, sequence):
    """The effective exit rules of a version's `rules` for `sequence` (a key left out
    keeps the sequence's behaviour from before exit rules; see the module docstring)."""
    rules = rules if isinstance(rules, dict) else {}
    days = rules.get("no_engagement_days")
    return ExitRules(
        reply=rules.get("reply") or ("pause" if sequence.stop_on_reply else "off"),
        pause_other_replies=bool(sequence.stop_on_reply),
        meeting=rules.get("meeting") or ("pause" if sequence.stop_on_meeting else "off"),
        conversion=rules.get("conversion", True) is not False,
        disqualification=rules.get("disqualification", True) is not False,
        no_engagement_days=int(days) if days else None,
    )


def goal_matches(goal, *, kind, data):
    """Whether recording a fact of `kind` with `data` reaches `goal`."""
    condition = goal.get("condition") or {}
    wanted = condition.get("kind")
    if GOAL_FACTS.get(wanted) != kind:
        return False
    if wanted == "lead_status":
        return data.get("to") in (condition.get("in") or ())
    if wanted == "clicked":
        return _contains(data.get("url"), condition.get("link_contains"))
    if wanted == "custom_event":
        return bool(condition.get("name")) and data.get("name") == condition.get("name")
    return True


def goal_reached_by_state(goal, *, contact, enrolled_at, clicks=(), custom_events=()):
    """Why the contact's state shows `goal` reached since `enrolled_at` ("" when it does
    not): the processor's check before each node. `clicks` are the URLs the contact
    clicked since enrolling, `custom_events` the names of custom events since then. A
    lead-status goal is met by the status the lead is in, however it got there."""
    condition = goal.get("condition") or {}
    wanted = condition.get("kind")
    if wanted == "meeting_booked" and contact.last_meeting_at and contact.last_meeting_at > enrolled_at:
        return "a meeting was booked"
    if wanted == "lead_status" and contact.lead_status in (condition.get("in") or ()):
        return f"the lead status is {contact.lead_status}"
    if wanted == "clicked":
        url = next((url for url in clicks if _contains(url, condition.get("link_contains"))), None)
        if url:
            return f"the contact clicked {str(url)[:120]}"
    if wanted == "custom_event" and condition.get("name") and condition.get("name") in custom_events:
        return f"the event “{condition['name'][:80]}” was recorded"
    return ""


def _contains(url, text):
    return bool(url) and (not text or text.lower() in str(url).lower())


def goals_needing(goals, kind):
    return [goal for goal in goals or () if (goal.get("condition") or {}).get("kind") == kind]


def version_of(e):
    """The version whose rules apply to `e` (rows from before versions: the sequence's)."""
    return e.version_id or (e.current_step.version_id if e.current_step else None) or e.sequence.current_version_id


def exit_rules_by_version(version_ids):
    """version id -> its stored exit rules, for the versions that have any (one query)."""
    from ..models import SequenceVersion

    ids = [pk for pk in version_ids if pk]
    if not ids:
        return {}
    return dict(SequenceVersion.objects.filter(pk__in=ids).exclude(exit_rules={}).values_list("pk", "exit_rules"))
