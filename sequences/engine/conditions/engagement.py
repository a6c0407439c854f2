"""Conditions on how the contact took an earlier message of the flow: opened, not
opened, clicked (a link containing some text), replied, within a number of days of its
send. "node" is the key of an earlier message node of the same version; the message is
the enrollment's own for that node (its latest visit), and the facts are the contact
events recorded against that very message. One query for a whole batch: the messages of
the batch's enrollments for the nodes asked about, with their events joined."""
from datetime import timedelta
from urllib.parse import urlparse

from scendcore.zones import their_time_text

from ...models import StepKind
from ...scheduling import contact_zone
from . import Outcome

KINDS = ("opened", "not_opened", "clicked", "replied")
# An open is also known from a click: a client that blocks images still follows links.
OPEN_EVENTS = {"opened", "clicked"}


def short_link(url):
    """"https://acme.example/book-demo?x=1" → "…/book-demo": what a rep recognises."""
    parsed = urlparse(url or "")
    if parsed.path and parsed.path != "/":
        return "…" + parsed.path
    return parsed.netloc or (url or "")[:80]


class Engagement:
    kinds = KINDS

    def problems(self, leaf, *, tenant, earlier_message_keys):
        found = []
        node = leaf.get("node")
        if not isinstance(node, str) or not node:
            found.append("Choose the earlier message this condition is about.")
        elif earlier_message_keys is not None and node not in earlier_message_keys:
            found.append(f"“{node}” is not a message node that can run before this one.")
        days = leaf.get("within_days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 365):
            found.append("“within_days” is a whole number of days from 1 to 365.")
        link = leaf.get("link_contains")
        if link is not None:
            if leaf.get("kind") != "clicked":
                found.append("Only a click condition can name a link.")
            elif not isinstance(link, str) or not link.strip() or len(link) > 500:
                found.append("“link_contains” is a text of at most 500 characters.")
        return found

    def evaluate(self, pairs, *, context):
        from messaging.models import OutboundMessage

        keys = sorted({leaf.get("node") for _, leaf in pairs if isinstance(leaf.get("node"), str)})
        enrollment_ids = sorted({e.id for e, _ in pairs})
        messages = {}  # (enrollment id, node key) -> (message id, pass, sent_at)
        events = {}  # message id -> [(kind, occurred_at, data)]
        if keys:
            rows = (
                OutboundMessage.objects.filter(enrollment_id__in=enrollment_ids, step__key__in=keys)
                .values_list("enrollment_id", "step__key", "id", "step_pass", "sent_at", "events__kind",
                             "events__occurred_at", "events__data")
                .order_by()
            )
            for enrollment_id, key, message_id, step_pass, sent_at, kind, occurred_at, data in rows:
                known = messages.get((enrollment_id, key))
                if known is None or (step_pass, message_id) > (known[1], known[0]):
                    messages[enrollment_id, key] = (message_id, step_pass, sent_at)
                if kind:
                    events.setdefault(message_id, []).append((kind, occurred_at, data or {}))
        answers = {}
        for e, leaf in pairs:
            key = leaf.get("node")
            node = context.graph_for(e).by_key.get(key)
            if node is None or node.kind != StepKind.MESSAGE:
                answers[e.id, id(leaf)] = Outcome(False, missing=f"the message node “{key}” no longer exists")
                continue
            found = messages.get((e.id, key))
            fact = self._fact(leaf, found, events)
            kind = leaf.get("kind")
            if kind == "not_opened":
                title = node.title or key
                answers[e.id, id(leaf)] = Outcome(
                    fact is None, because=f"the contact did not open “{title}”" if fact is None else "")
            else:
                answers[e.id, id(leaf)] = Outcome(fact is not None, because=self._because(e, kind, fact))
        return answers

    @staticmethod
    def _fact(leaf, found, events):
        """The first event that satisfies the leaf, as (kind, occurred_at, data), or None."""
        if found is None or found[2] is None:
            return None  # never sent: nothing can have been opened
        message_id, _, sent_at = found
        days = leaf.get("within_days")
        until = sent_at + timedelta(days=days) if isinstance(days, int) and not isinstance(days, bool) else None
        kind = leaf.get("kind")
        wanted = OPEN_EVENTS if kind in ("opened", "not_opened") else {kind}
        link = (leaf.get("link_contains") or "").strip().lower() if kind == "clicked" else ""
        hits = [
            (event_kind, at, data) for event_kind, at, data in events.get(message_id, ())
            if event_kind in wanted and (until is None or at <= until)
            and (not link or link in str(data.get("url", "")).lower())
        ]
        return min(hits, key=lambda hit: hit[1]) if hits else None

    @staticmethod
    def _because(e, kind, fact):
        if fact is None:
            return ""
        event_kind, at, data = fact
        when = their_time_text(at, contact_zone(e.contact, e.sequence.tenant))
        if event_kind == "clicked":
            return f"the contact clicked {short_link(data.get('url'))} at {when}"
        verb = {"opened": "opened the message", "replied": "replied"}.get(event_kind, event_kind)
        return f"the contact {verb} at {when}"
