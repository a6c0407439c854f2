"""A version's flow as a JSON document, and back: what the API accepts and returns, what
the templates are written in, and what a publish compares.

    {"nodes": [{"key": "intro", "type": "message", "title": "Intro",
                "settings": {"channel": "email", "delay_value": 0, …},
                "edges": [{"label": "next", "to": "check"}]}, …],
     "goals": [...], "exit_rules": {...}}

The node array's order is the outline's. Message and task settings are the Step
columns of NODE_COLUMNS; every other setting of a node is kept in Step.config. Edges
are stored as given (navigator says what a missing one means).

Reading checks the document's shape only (types, keys, sizes), keyed like the API's
errors: {"nodes.<key>.<field>": [...]} or {"<field>": [...]}. Whether the flow makes
sense (known types, targets, cycles, references) is the engine's check at publish
(sequences.engine.validation), which names the same keys.
"""
import re
from datetime import time

from ..models import Step, StepKind

NODE_COLUMNS = (
    "channel", "job_type", "delay_value", "delay_unit", "business_days_only", "window_days",
    "window_start", "window_end", "jitter_minutes", "angle", "cta", "value_proposition",
    "subject_template", "body_template", "requires_human_approval",
)
TIME_COLUMNS = ("window_start", "window_end")
EDGE_FIELDS = {"label": str, "to": (str, type(None)), "condition": dict, "weight": int, "holdout": bool}
KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_NODES = 200
MAX_EDGES = 30
MAX_CONFIG_BYTES = 32_000
MAX_TITLE = Step._meta.get_field("title").max_length
MAX_COLUMN_INT = 2**31 - 1  # PositiveIntegerField's column
MAX_KIND = Step._meta.get_field("kind").max_length


class Problems(dict):
    """{location: [message]}, added to in document order."""

    def add(self, where, message):
        self.setdefault(where, []).append(message)


def node_field(key, field):
    return f"nodes.{key}.{field}"


# ------------------------------------------------------------------ writing

def _column_value(step, name):
    value = getattr(step, name)
    return value.strftime("%H:%M") if isinstance(value, time) else value


def node_document(step):
    settings = {name: _column_value(step, name) for name in NODE_COLUMNS}
    settings.update(step.config or {})
    return {"key": step.key, "type": step.kind, "title": step.title, "settings": settings,
            "edges": [dict(edge) for edge in step.edges or ()]}


def version_document(version, nodes):
    """The document of `version` with its `nodes` (in outline order)."""
    return {
        "version": version.number, "state": version.state,
        "published_at": version.published_at.isoformat() if version.published_at else None,
        "goals": list(version.goals or ()), "exit_rules": dict(version.exit_rules or {}),
        "nodes": [node_document(step) for step in nodes],
    }


# ------------------------------------------------------------------ reading

def _parse_time(value):
    if value in (None, ""):
        return None
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
        hours, minutes = (int(part) for part in value.split(":"))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise ValueError("Use a time as HH:MM.")


def _column_problem(name, value):
    """What the column `name` cannot store of `value` (a too long text, a number out of
    its range, weekdays that are not 0..6), so a document never fails at the database."""
    field = Step._meta.get_field(name)
    if isinstance(value, str) and field.max_length and len(value) > field.max_length:
        return f"At most {field.max_length} characters."
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_COLUMN_INT:
        return f"A whole number from 0 to {MAX_COLUMN_INT}."
    if name == "window_days" and value is not None and not (
            isinstance(value, list) and len(value) <= 7
            and all(isinstance(day, int) and not isinstance(day, bool) and 0 <= day <= 6 for day in value)):
        return "Weekdays are a list of numbers 0 (Monday) to 6 (Sunday)."
    return ""


def _read_edges(raw, where, problems):
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(where, "Edges are a list.")
        return []
    if len(raw) > MAX_EDGES:
        problems.add(where, f"A node has at most {MAX_EDGES} edges.")
        return []
    edges = []
    for index, edge in enumerate(raw):
        if not isinstance(edge, dict):
            problems.add(where, f"Edge {index + 1} is not an object.")
            continue
        unknown = sorted(set(edge) - set(EDGE_FIELDS))
        if unknown:
            problems.add(where, f"Edge {index + 1} has unknown fields: {', '.join(unknown)}.")
        wrong = [name for name, kind in EDGE_FIELDS.items()
                 if name in edge and (not isinstance(edge[name], kind) or isinstance(edge[name], bool) != (kind is bool))]
        if wrong:
            problems.add(where, f"Edge {index + 1} has a field of the wrong type: {', '.join(wrong)}.")
            continue
        if not (edge.get("label") or "").strip():
            problems.add(where, f"Edge {index + 1} needs a label.")
            continue
        edges.append({name: edge[name] for name in EDGE_FIELDS if name in edge})
    return edges


def _read_node(raw, order, problems, seen):
    if not isinstance(raw, dict):
        problems.add("nodes", f"Node {order} is not an object.")
        return None
    key = raw.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        problems.add("nodes", f"Node {order} needs a key of letters, digits, '-', '_' or '.' (at most 64).")
        return None
    if key in seen:
        problems.add(node_field(key, "key"), "Two nodes have this key.")
        return None
    seen.add(key)
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        problems.add(node_field(key, "type"), "Give the node a type.")
        return None
    if len(kind) > MAX_KIND:
        problems.add(node_field(key, "type"), f"There is no node type “{kind[:40]}…”.")
        return None
    title = raw.get("title") or ""
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        problems.add(node_field(key, "title"), f"The title is text of at most {MAX_TITLE} characters.")
        title = ""
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        problems.add(node_field(key, "settings"), "Settings are an object.")
        settings = {}
    step = Step(key=key, kind=kind, title=title, order=order)
    config = {}
    for name, value in settings.items():
        if name in TIME_COLUMNS:
            try:
                value = _parse_time(value)
            except ValueError as error:
                problems.add(node_field(key, name), str(error))
                continue
        if name in NODE_COLUMNS:
            expected = type(Step._meta.get_field(name).get_default())
            if value is not None and name not in TIME_COLUMNS and expected in (int, bool, str) and (
                    not isinstance(value, expected) or isinstance(value, bool) != (expected is bool)):
                problems.add(node_field(key, name), f"Expected {expected.__name__}.")
                continue
            if (message := _column_problem(name, value)):
                problems.add(node_field(key, name), message)
                continue
            if value is None and name not in ("window_days", *TIME_COLUMNS):
                continue
            setattr(step, name, value)
        else:
            config[name] = value
    if len(repr(config)) > MAX_CONFIG_BYTES:
        problems.add(node_field(key, "settings"), "These settings are too large.")
        config = {}
    step.config = config
    step.edges = _read_edges(raw.get("edges"), node_field(key, "edges"), problems)
    if kind == StepKind.TASK and "channel" not in settings:
        step.channel = step.job_type = "task"  # a task node's default, as the builder's task form
    return step


def read_document(document):
    """(nodes, goals, exit_rules, problems): unsaved Steps in outline order (orders 1..N)
    from a document; problems with its shape, keyed like the API's errors."""
    problems = Problems()
    if not isinstance(document, dict):
        problems.add("definition", "The definition is a JSON object with a list of nodes.")
        return [], [], {}, problems
    raw_nodes = document.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        problems.add("nodes", "Give the flow at least one node.")
        raw_nodes = []
    if len(raw_nodes) > MAX_NODES:
        problems.add("nodes", f"A flow has at most {MAX_NODES} nodes.")
        raw_nodes = []
    seen, nodes = set(), []
    for order, raw in enumerate(raw_nodes, start=1):
        step = _read_node(raw, order, problems, seen)
        if step is not None:
            nodes.append(step)
    goals = document.get("goals") or []
    if not isinstance(goals, list) or not all(isinstance(goal, dict) for goal in goals):
        problems.add("goals", "Goals are a list of objects.")
        goals = []
    exit_rules = document.get("exit_rules") or {}
    if not isinstance(exit_rules, dict):
        problems.add("exit_rules", "Exit rules are an object.")
        exit_rules = {}
    return nodes, goals, exit_rules, problems


def node_changes(old, new):
    """Which settings and edges differ between two versions of one node (same key)."""
    before, after = node_document(old), node_document(new)
    changed = []
    for part in ("type", "title", "edges"):
        if before[part] != after[part]:
            changed.append(part)
    for name in sorted(set(before["settings"]) | set(after["settings"])):
        if before["settings"].get(name) != after["settings"].get(name):
            changed.append(name)
    return changed
