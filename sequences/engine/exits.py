"""What the processor's re-check reads about goals and exit rules, prepared once per
batch: the versions' goals and exit rules in one query, and only when some row of the
batch needs them, one query per kind of contact event (clicks and custom events for
goals, positive replies for "exit on a positive reply", the latest engagement for "no
engagement in N days"). The decisions are sequences.flow.rules'."""
from collections import defaultdict
from datetime import timedelta

from django.db.models import Max

from contacts.models import ContactEvent, EventKind

from ..flow import rules
from ..models import SequenceVersion

ENGAGEMENT = (EventKind.OPENED, EventKind.CLICKED, EventKind.REPLIED)
CUSTOM = "custom"


class RuleState:
    def __init__(self, rows):
        versions = {rules.version_of(e) for e in rows if e.sequence_id}
        stored = {
            pk: (goals, exit_rules) for pk, goals, exit_rules in SequenceVersion.objects
            .filter(pk__in=[v for v in versions if v]).values_list("pk", "goals", "exit_rules")
        } if versions else {}
        self.goals, self.rules = {}, {}
        for e in rows:
            goals, exit_rules = stored.get(rules.version_of(e), ([], {}))
            self.goals[e.pk] = goals or []
            self.rules[e.pk] = rules.exit_rules_of(exit_rules, sequence=e.sequence)
        self.clicks = self._events(rows, EventKind.CLICKED, "url", need="clicked")
        self.custom = self._events(rows, CUSTOM, "name", need="custom_event")
        self.positive = self._latest(
            [e for e in rows if self.rules[e.pk].reply == "exit_positive" and _replied_since(e)],
            kinds=[EventKind.REPLIED], data__intent=rules.POSITIVE)
        self.engaged = self._latest([e for e in rows if self.rules[e.pk].no_engagement_days], kinds=ENGAGEMENT)

    def _events(self, rows, kind, field, *, need):
        """contact id -> [(when, data[field])] of `kind` events since the earliest
        enrollment among the rows with a goal of kind `need`."""
        wanting = [e for e in rows if rules.goals_needing(self.goals[e.pk], need)]
        found = defaultdict(list)
        if not wanting:
            return found
        events = ContactEvent.objects.filter(
            contact_id__in=list({e.contact_id for e in wanting}), kind=kind,
            occurred_at__gte=min(e.enrolled_at for e in wanting),
        ).values_list("contact_id", "occurred_at", f"data__{field}")
        for contact_id, when, value in events:
            found[contact_id].append((when, value))
        return found

    def _latest(self, wanting, *, kinds, **data):
        if not wanting:
            return {}
        return dict(
            ContactEvent.objects.filter(contact_id__in=list({e.contact_id for e in wanting}), kind__in=list(kinds),
                                        occurred_at__gte=min(e.enrolled_at for e in wanting), **data)
            .values_list("contact_id").annotate(last=Max("occurred_at")).order_by()
        )

    # ------------------------------------------------------------------ per row

    def goal_reached(self, e):
        """(goal, because) of the first goal `e` has reached, or None."""
        since = e.enrolled_at
        clicks = [url for when, url in self.clicks.get(e.contact_id, ()) if when >= since]
        custom = {name for when, name in self.custom.get(e.contact_id, ()) if when >= since}
        for goal in self.goals[e.pk]:
            because = rules.goal_reached_by_state(goal, contact=e.contact, enrolled_at=since, clicks=clicks,
                                                  custom_events=custom)
            if because:
                return goal, because
        return None

    def on_reply(self, e):
        """What the contact's reply since enrolling does ("exit", "pause", ""), and why."""
        if not _replied_since(e):
            return "", ""
        rule = self.rules[e.pk]
        last_positive = self.positive.get(e.contact_id)
        intent = rules.POSITIVE if last_positive and last_positive > e.enrolled_at else ""
        action = rule.on_reply(intent)
        return action, "positive reply" if action == "exit" and rule.reply == "exit_positive" else "replied"

    def on_meeting(self, e):
        contact = e.contact
        if not (contact.last_meeting_at and contact.last_meeting_at > e.enrolled_at):
            return ""
        return self.rules[e.pk].on_meeting()

    def disengaged(self, e, now):
        """The exit reason when `e` has gone its rules' N days without an open, click or
        reply (counted from enrolling or the last one), else ""."""
        days = self.rules[e.pk].no_engagement_days
        if not days:
            return ""
        last = max(filter(None, (e.enrolled_at, self.engaged.get(e.contact_id))))
        if now - last < timedelta(days=days):
            return ""
        return f"no engagement in {days} day{'s' * (days != 1)}"


def _replied_since(e):
    replied = e.contact.last_replied_at
    return bool(replied and replied > e.enrolled_at)
