"""The flow as an outline in plain words: each node's name, type, settings and outgoing
paths ("If clicked 'book-demo' within 3 days → Tag High Intent"; "Otherwise → Wait 3
days"). Names of the tags, lists and sequences a flow refers to are read once for the
whole outline (`Names.of`), only among the tenant's own objects: a reference to anything
else reads as missing."""
from dataclasses import dataclass, field

from contacts.models import ContactList, Tag

from .flow.navigator import NEXT, Graph
from .models import Sequence, StepKind
from .selectors import DAY_NAMES, _plural, step_title

EVENT_WORDS = {"opened": "opened", "clicked": "clicked", "replied": "replied", "meeting_booked": "booked a meeting",
               "field_changed": "changed a field", "tag_added": "got a tag", "custom": "sent an event"}
ACTION_WORDS = {"add_tag": "Tag", "remove_tag": "Remove tag", "add_to_list": "Add to list",
                "remove_from_list": "Remove from list", "set_field": "Set", "set_lead_status": "Lead status →",
                "notify_owner": "Notify the owner:", "move_to_sequence": "Move to", "set_context": "Context",
                "exit": "Exit:"}
OP_WORDS = {"equals": "is", "one_of": "is one of", "contains": "contains", "empty": "is empty",
            "not_empty": "is not empty", "gt": ">", "lt": "<"}
MISSING = "(deleted)"


@dataclass
class Names:
    tags: dict = field(default_factory=dict)
    lists: dict = field(default_factory=dict)
    sequences: dict = field(default_factory=dict)

    @classmethod
    def of(cls, *, tenant, nodes):
        """The names of every tag, list and sequence `nodes` refer to (three queries at most)."""
        wanted = {"tag": set(), "list": set(), "sequence": set()}
        for node in nodes:
            _collect([node.config, node.edges], wanted)
        names = cls()
        for key, model, into in (("tag", Tag, names.tags), ("list", ContactList, names.lists),
                                 ("sequence", Sequence, names.sequences)):
            ids = [i for i in wanted[key] if isinstance(i, int) and not isinstance(i, bool)]
            if ids:
                into.update(model.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "name"))
        return names


def _collect(value, wanted):
    if isinstance(value, dict):
        for name, inner in value.items():
            if name in wanted and not isinstance(inner, (dict, list)):
                wanted[name].add(inner)
            else:
                _collect(inner, wanted)
    elif isinstance(value, list):
        for inner in value:
            _collect(inner, wanted)


def _duration(value, unit, business=False):
    unit = {"minutes": "minute", "hours": "hour", "days": "business day" if business else "day"}.get(unit, unit)
    return _plural(value or 0, unit)


def _days(days):
    return ", ".join(DAY_NAMES[d] for d in sorted(days) if 0 <= d < 7)


def event_words(event, names):
    kind = event.get("kind", "")
    words = EVENT_WORDS.get(kind, kind)
    if kind == "clicked" and event.get("link_contains"):
        words += f" '{event['link_contains']}'"
    if kind == "field_changed":
        words = f"changed {event.get('field', '')}" + (f" to '{event['value']}'" if event.get("value") else "")
    if kind == "tag_added":
        words = f"got the tag {names.tags.get(event.get('tag'), MISSING)}"
    if kind == "custom":
        words = f"sent '{event.get('name', '')}'"
    return words


def node_summary(node, names=None):
    """The node's settings in a few words ('' for message and task steps: the timeline
    line says theirs)."""
    names = names or Names()
    config = node.config or {}
    if node.kind == StepKind.WAIT:
        mode = config.get("mode", "duration")
        if mode == "until":
            return f"Wait until {_days(config.get('weekdays') or [])} {config.get('time', '')}".rstrip()
        if mode == "event":
            timeout = config.get("timeout") or {}
            return (f"Wait until they {event_words(config.get('event') or {}, names)}, "
                    f"at most {_duration(timeout.get('value'), timeout.get('unit'))}")
        return f"Wait {_duration(node.delay_value, node.delay_unit, node.business_days_only)}"
    if node.kind == StepKind.ACTION:
        return action_words(config, names)
    if node.kind == StepKind.EXIT:
        return "Exit" + (f": {config['reason']}" if config.get("reason") else "")
    if node.kind == StepKind.SPLIT:
        arms = [e for e in node.edges or () if not e.get("holdout")]
        holdout = next((e for e in node.edges or () if e.get("holdout")), None)
        words = "Split " + " / ".join(str(e.get("weight", 0)) for e in arms)
        return words + (f", holdout {holdout.get('weight', 0)}" if holdout else "")
    if node.kind == StepKind.BRANCH:
        rules = [e for e in node.edges or () if e.get("label") != "default"]
        return f"{_plural(len(rules), 'rule')}, the first that matches wins"
    return ""


def action_words(config, names):
    action = config.get("action", "")
    words = ACTION_WORDS.get(action, action)
    target = {
        "add_tag": lambda: names.tags.get(config.get("tag"), MISSING),
        "remove_tag": lambda: names.tags.get(config.get("tag"), MISSING),
        "add_to_list": lambda: names.lists.get(config.get("list"), MISSING),
        "remove_from_list": lambda: names.lists.get(config.get("list"), MISSING),
        "move_to_sequence": lambda: names.sequences.get(config.get("sequence"), MISSING),
        "set_field": lambda: f"{config.get('field', '')} = '{config.get('value', '')}'",
        "set_context": lambda: f"{config.get('key', '')} = '{config.get('value', '')}'",
        "set_lead_status": lambda: config.get("status", ""),
        "notify_owner": lambda: config.get("message", ""),
        "exit": lambda: config.get("reason", ""),
    }.get(action)
    return f"{words} {target()}" if target else words


def node_name(node, names=None):
    """What the outline calls a node: its own name, else what it does."""
    if node.title:
        return node.title
    if node.kind in (StepKind.MESSAGE, StepKind.TASK):
        return step_title(node)
    return node_summary(node, names) or node.kind


def condition_words(condition, names):
    for join, word in (("all", " and "), ("any", " or ")):
        if join in condition:
            return word.join(condition_words(inner, names) for inner in condition[join] or ())
    kind = condition.get("kind", "")
    if kind in ("opened", "not_opened", "clicked", "replied"):
        words = {"not_opened": "did not open"}.get(kind, kind)
        if kind == "clicked" and condition.get("link_contains"):
            words += f" '{condition['link_contains']}'"
        if condition.get("within_days"):
            words += f" within {_plural(condition['within_days'], 'day')}"
        return words
    if kind in ("field", "context"):
        name = condition.get("field") if kind == "field" else f"context {condition.get('key')}"
        value = condition.get("value", "")
        value = ", ".join(map(str, value)) if isinstance(value, list) else value
        op = condition.get("op", "equals")
        return f"{name} {OP_WORDS.get(op, op)}" + ("" if op in ("empty", "not_empty") else f" '{value}'")
    if kind in ("lead_status", "score_band"):
        return f"{kind.replace('_', ' ')} is {' or '.join(condition.get('in') or ())}"
    if kind == "tag":
        return f"{'has' if condition.get('has', True) else 'does not have'} the tag " \
               f"{names.tags.get(condition.get('tag'), MISSING)}"
    if kind == "list":
        return f"{'is' if condition.get('member', True) else 'is not'} in the list " \
               f"{names.lists.get(condition.get('list'), MISSING)}"
    return kind


def path_words(graph, node, names):
    """The node's outgoing paths as sentences, in order. The implicit "continue below" of
    a linear step is not repeated: the outline's order already says it."""
    words, explicit = [], {e.get("label") for e in node.edges or ()}
    for edge in node.edges or ():
        label, to = edge.get("label"), edge.get("to")
        target = graph.by_key.get(to)
        where = "End" if to is None else (node_name(target, names) if target else f"“{to}” (missing)")
        if edge.get("holdout"):
            words.append(f"Holdout ({edge.get('weight', 0)}) → exits as holdout")
        elif "condition" in edge:
            words.append(f"If {condition_words(edge['condition'] or {}, names)} → {where}")
        elif label == "default":
            words.append(f"Otherwise → {where}")
        elif label == "timeout":
            words.append(f"Timeout → {where}")
        elif label == "event":
            words.append(f"When it happens → {where}")
        elif "weight" in edge:
            words.append(f"Arm {label} ({edge['weight']}) → {where}")
        elif label == NEXT:
            words.append(f"Then → {where}")
        else:
            words.append(f"Outcome '{label}' → {where}")
    if node.kind == StepKind.WAIT and NEXT not in explicit and (node.config or {}).get("mode") == "event":
        below = graph.follow(node, NEXT)
        words.append(f"Otherwise → {node_name(below, names) if below else 'End'}")
    return words


def outline_words(*, tenant, nodes):
    """{node key: (name, summary, [path words])} for a version's nodes."""
    graph, names = Graph(nodes), Names.of(tenant=tenant, nodes=nodes)
    return {node.key: (node_name(node, names), node_summary(node, names), path_words(graph, node, names))
            for node in graph}
