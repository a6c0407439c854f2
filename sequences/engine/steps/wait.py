"""A wait node. Three modes (Step.config["mode"]):
- "duration": the node's delay columns are the wait (scheduling made it due when the
  wait ends); when it runs it just moves on;
- "until": the next chosen weekday and time in the contact's zone (scheduling again);
- "event": entered waiting on an event (WaitingOn.EVENT), due at its timeout. The fact it
  waits for, when recorded, makes it due at once (services.reactions); when it runs it
  takes the "event" path if the event happened since it was entered (or, with
  "relative_to", since the named earlier message went, about that message), the
  "timeout" path once the timeout has passed, and otherwise goes on waiting.
Set-based: the events of all the batch's event waits are read with one query (and the
messages they are relative to with one more)."""
from ...flow import transitions, wording
from ...models import StepKind
from ...scheduling import TIMEOUT_UNITS, next_run_at, parse_wall_time, wait_mode
from ..conditions.engagement import OPEN_EVENTS, short_link
from ..conditions.fields import BUILTIN_FIELDS, compare

MODES = ("duration", "until", "event")
EVENTS = ("opened", "clicked", "replied", "meeting_booked", "field_changed", "tag_added", "custom")
# Events that are about one message: relative to a message node, the event must be about it.
MESSAGE_EVENTS = ("opened", "clicked", "replied")
LABELS = ("event", "timeout", "next")


def event_of(node):
    config = node.config if isinstance(node.config, dict) else {}
    event = config.get("event")
    return event if isinstance(event, dict) else {}


def entered_at(e):
    """When the enrollment entered its current node (the moment its schedule counts from)."""
    return e.last_step_at or e.enrolled_at


def timeout_at(e):
    """The moment the current event wait times out: the due time it was entered with."""
    return next_run_at(step=e.current_step, after=entered_at(e), contact=e.contact, tenant=e.sequence.tenant)


def event_words(event, *, tag_name=""):
    """"a reply", "a click on a link containing “/book-demo”", "the event “trial_started”"."""
    kind = event.get("kind")
    if kind == "opened":
        return "an open"
    if kind == "clicked":
        link = event.get("link_contains")
        return f"a click on a link containing “{link}”" if link else "a click"
    if kind == "replied":
        return "a reply"
    if kind == "meeting_booked":
        return "a booked meeting"
    if kind == "field_changed":
        words = f"a change of “{event.get('field')}”"
        return words + (f" to “{event['value']}”" if event.get("value") not in (None, "") else "")
    if kind == "tag_added":
        return f"the tag “{tag_name}”" if tag_name else "a tag"
    if kind == "custom":
        return f"the event “{event.get('name')}”"
    return "an event"


def matches(event, kind, data, message_id, *, message=None):
    """Whether a recorded contact event (kind, data, message) is the one `event` waits for;
    `message` is the id of the message it must be about, when it must be about one."""
    wanted = event.get("kind")
    if message is not None and message_id != message:
        return False
    if wanted == "opened":
        return kind in OPEN_EVENTS
    if kind != wanted:
        return False
    if wanted == "clicked":
        link = (event.get("link_contains") or "").strip().lower()
        return not link or link in str(data.get("url", "")).lower()
    if wanted == "field_changed":
        if data.get("field") != event.get("field"):
            return False
        return event.get("value") in (None, "") or compare(data.get("to"), "equals", event["value"])
    if wanted == "tag_added":
        return data.get("tag") == event.get("tag")
    if wanted == "custom":
        return data.get("name") == event.get("name")
    return True


class WaitStep:
    kind = StepKind.WAIT
    instant = False

    def settings_problems(self, node, *, tenant, graph=None):
        from .branch import earlier_message_keys

        errors = {}

        def add(field, message):
            errors.setdefault(field, []).append(message)

        config = node.config if isinstance(node.config, dict) else {}
        mode = config.get("mode") or "duration"
        if mode not in MODES:
            add("mode", f"Choose how to wait: {', '.join(MODES)}.")
        if mode == "until":
            days = config.get("weekdays")
            if not isinstance(days, list) or not days or not all(
                    isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days):
                add("weekdays", "Pick at least one weekday (Monday is 0, Sunday 6).")
            if parse_wall_time(config.get("time")) is None:
                add("time", "Enter a time of day as HH:MM.")
        if mode == "event":
            self._event_problems(node, config, tenant=tenant, graph=graph, add=add,
                                 earlier=lambda: earlier_message_keys(node, graph))
        bad = [str(edge.get("label")) for edge in node.edges or [] if not isinstance(edge, dict)
               or edge.get("label") not in (LABELS if mode == "event" else ("next",))]
        if bad:
            add("edges", f"A wait's paths are {', '.join(LABELS) if mode == 'event' else 'next'}: "
                         f"not {', '.join(bad)}.")
        return errors

    @staticmethod
    def _event_problems(node, config, *, tenant, graph, add, earlier):
        from contacts.models import Tag
        from contacts.selectors import custom_field_keys

        event = config.get("event") if isinstance(config.get("event"), dict) else {}
        kind = event.get("kind")
        if kind not in EVENTS:
            add("event", f"Choose the event to wait for: {', '.join(EVENTS)}.")
        elif kind == "field_changed":
            field = event.get("field")
            if not isinstance(field, str) or (field not in BUILTIN_FIELDS and field not in custom_field_keys(tenant=tenant)):
                add("event", f"Unknown field “{field}”: it is neither a contact field nor a custom field of this workspace.")
        elif kind == "tag_added":
            tag = event.get("tag")
            if not isinstance(tag, int) or isinstance(tag, bool) or not Tag.objects.filter(tenant=tenant, pk=tag).exists():
                add("event", "No such tag in this workspace.")
        elif kind == "custom":
            if not isinstance(event.get("name"), str) or not event["name"].strip():
                add("event", "Name the custom event to wait for.")
        elif kind == "clicked" and event.get("link_contains") is not None:
            if not isinstance(event["link_contains"], str) or len(event["link_contains"]) > 500:
                add("event", "“link_contains” is a text of at most 500 characters.")
        relative = event.get("relative_to")
        known = earlier() if relative is not None else None
        if known is not None and relative not in known:
            add("event", f"“{relative}” is not a message node that can run before this one.")
        timeout = config.get("timeout") if isinstance(config.get("timeout"), dict) else {}
        value = timeout.get("value")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 or timeout.get("unit") not in TIMEOUT_UNITS:
            add("timeout", "Enter a timeout: a whole number of minutes, hours or days.")
        elif value * TIMEOUT_UNITS[timeout["unit"]] > 366 * 86400:
            add("timeout", "The timeout is at most a year.")

    def run(self, work_, enrollments):
        batch = work_.batch
        waiting = []
        for e in enrollments:
            mode = wait_mode(e.current_step)
            if mode == "event":
                waiting.append(e)
            else:
                batch.advance(e, executed="Waited until " + wording.local(batch.now, wording.zone_of(e))
                              if mode == "until" else "Wait over")
        if waiting:
            self.events(batch, waiting)

    def events(self, batch, enrollments):
        from contacts.models import ContactEvent
        from messaging.models import OutboundMessage

        relative = {e.id: event_of(e.current_step).get("relative_to") for e in enrollments}
        relative = {eid: key for eid, key in relative.items() if key}
        sent = {}  # enrollment id -> (message id, sent_at) of the node it is relative to
        if relative:
            rows = (OutboundMessage.objects.filter(enrollment_id__in=sorted(relative),
                                                   step__key__in=sorted(set(relative.values())))
                    .values_list("enrollment_id", "step__key", "id", "step_pass", "sent_at").order_by())
            best = {}
            for enrollment_id, key, message_id, step_pass, sent_at in rows:
                if key == relative[enrollment_id] and (step_pass, message_id) > best.get(enrollment_id, (0, 0)):
                    best[enrollment_id] = (step_pass, message_id)
                    sent[enrollment_id] = (message_id, sent_at)
        since = {}
        for e in enrollments:
            if e.id in relative:
                message = sent.get(e.id)
                # Relative to a message not sent (yet): nothing about it can have happened.
                since[e.id] = message[1] if message and message[1] else None
            else:
                since[e.id] = entered_at(e)
        starts = [moment for moment in since.values() if moment is not None]
        found = {}
        if starts:
            kinds = {event_of(e.current_step).get("kind") for e in enrollments}
            kinds = (kinds | OPEN_EVENTS) if "opened" in kinds else kinds
            rows = (ContactEvent.objects.filter(contact_id__in=sorted({e.contact_id for e in enrollments}),
                                                kind__in=sorted(k for k in kinds if k), occurred_at__gte=min(starts),
                                                occurred_at__lte=batch.now)
                    .values_list("contact_id", "kind", "data", "message_id", "occurred_at").order_by("occurred_at"))
            for contact_id, kind, data, message_id, occurred_at in rows:
                found.setdefault(contact_id, []).append((kind, data or {}, message_id, occurred_at))
        for e in enrollments:
            self.decide(batch, e, since=since[e.id], events=found.get(e.contact_id, ()),
                        message=sent.get(e.id, (None,))[0] if e.id in relative else None)

    def decide(self, batch, e, *, since, events, message):
        event = event_of(e.current_step)
        zone = wording.zone_of(e)
        hit = None
        if since is not None:
            must_be_about = message if event.get("kind") in MESSAGE_EVENTS else None
            hit = next((found for found in events if found[3] >= since and matches(
                event, found[0], found[1], found[2], message=must_be_about)), None)
        if hit is not None:
            kind, data, _, occurred_at = hit
            what = f"clicked {short_link(data.get('url'))}" if kind == "clicked" else {
                "opened": "opened the message", "replied": "replied", "meeting_booked": "booked a meeting",
                "field_changed": f"got a new {str(data.get('field', 'field')).replace('_', ' ')}",
                "tag_added": f"was tagged “{data.get('name', '')}”", "custom": f"sent the event “{data.get('name')}”",
            }.get(kind, kind)
            because = f"the contact {what} at {wording.local(occurred_at, zone)}"
            batch.activities += transitions.path(e, "event", at=batch.now, because=because,
                                                 data={"event": kind, "occurred_at": occurred_at.isoformat()})
            batch.advance(e, label="event", executed=f"Wait ended: {because}")
            return
        ends = timeout_at(e)
        if batch.now >= ends:
            because = f"the wait timed out at {wording.local(ends, zone)} without {event_words(event)}"
            batch.activities += transitions.path(e, "timeout", at=batch.now, because=because)
            batch.advance(e, label="timeout", executed=f"Wait timed out: {because}")
            return
        # Woken by another fact of the same kind (a click on another link, …): wait on.
        batch.activities += transitions.reschedule(
            e, ends, at=batch.now, detail=f"Still waiting for {event_words(event)}, until {wording.local(ends, zone)}")
