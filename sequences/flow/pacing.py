"""Seed 002's pacing defaults, as warnings and never as refusals: a contact should get at
most MAX_MESSAGES messages from one sequence, over at most MAX_DAYS days. A flow is
measured along its longest path from the first node (a loop is counted once: its
visits are bounded by max_visits, and a warning is about the plan, not the worst case)."""
from datetime import timedelta

from ..models import Channel, DelayUnit, StepKind
from .navigator import Graph

MAX_MESSAGES = 6
MAX_DAYS = 21
# "Until Monday 09:00" may be up to a week away.
UNTIL_SPAN = timedelta(days=7)
UNITS = {DelayUnit.MINUTES: "minutes", DelayUnit.HOURS: "hours", DelayUnit.DAYS: "days"}


def _duration(value, unit, *, business_days=False):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or unit not in UNITS:
        return timedelta(0)
    if unit == DelayUnit.DAYS and business_days:
        return timedelta(days=value * 7 / 5)  # five business days span a calendar week
    return timedelta(**{UNITS[unit]: value})


def node_span(node):
    """How long an enrollment may stay before and at `node` at most: its delay, and a
    wait's timeout or the week an "until" wait may last."""
    span = _duration(node.delay_value, node.delay_unit, business_days=node.business_days_only)
    config = node.config if isinstance(node.config, dict) else {}
    if node.kind == StepKind.WAIT:
        if config.get("mode") == "event" and isinstance(config.get("timeout"), dict):
            span += _duration(config["timeout"].get("value"), config["timeout"].get("unit"))
        elif config.get("mode") == "until":
            span += UNTIL_SPAN
    return span


def _sends(node):
    return node.kind == StepKind.MESSAGE and node.channel in (Channel.EMAIL, Channel.SMS)


def longest_paths(nodes):
    """(most messages, longest span) over the paths a contact can take through `nodes`."""
    graph = Graph(nodes)
    if graph.first is None:
        return 0, timedelta(0)
    best, on_path = {}, set()

    def walk(node):
        if node.key in best:
            return best[node.key]
        on_path.add(node.key)
        messages, span = 0, timedelta(0)
        for _, target in graph.targets(node):
            if target is None or target.key in on_path:
                continue
            more, longer = walk(target)
            messages, span = max(messages, more), max(span, longer)
        on_path.discard(node.key)
        best[node.key] = (messages + _sends(node), span + node_span(node))
        return best[node.key]

    return walk(graph.first)


def pacing_warnings(nodes):
    """Sentences for what exceeds the defaults; [] when the flow stays within them."""
    messages, span = longest_paths(nodes)
    warnings = []
    if messages > MAX_MESSAGES:
        warnings.append(f"A contact can get {messages} messages from this sequence; nurture works best with "
                        f"at most {MAX_MESSAGES}.")
    days = span.total_seconds() / 86400
    if days > MAX_DAYS:
        warnings.append(f"This sequence can run for {round(days)} days; nurture works best within {MAX_DAYS} days.")
    return warnings
