"""What a publish refuses: every problem of a version's flow, on the node it concerns,
as {node key: {field: [message]}} (the API's errors and the builder's marks alike).

The flow's own rules are here: a known node type, edges to nodes that exist, no cycle
that never waits (the processor would resolve it forever within one batch), and
conditions only on message nodes that can have run before the node that asks. Each
node type checks its own settings (StepType.settings_problems), so a new type brings
its rules with it.
"""
from collections import defaultdict

from ..flow.navigator import Graph
from . import steps as step_types

FLOW = "flow"  # problems of the whole flow, not of one node


def _refs(value):
    """Every node key a node's settings or conditions refer to ("node", "relative_to")."""
    if isinstance(value, dict):
        for name, inner in value.items():
            if name in ("node", "relative_to") and isinstance(inner, str) and inner:
                yield inner
            else:
                yield from _refs(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _refs(inner)


def _waits(node):
    """A node that holds an enrollment for a while: it sends, creates a task or waits,
    or has a delay before it."""
    try:
        instant = step_types.step_type(node.kind).instant
    except step_types.UnknownStepKind:
        instant = True
    return not instant or bool(node.delay_value)


def _ancestors(graph):
    """node key -> keys of the nodes from which it can be reached (it may run after them)."""
    reaches = defaultdict(set)
    for node in graph:
        stack, seen = [node], set()
        while stack:
            current = stack.pop()
            for _, target in graph.targets(current):
                if target is not None and target.key not in seen:
                    seen.add(target.key)
                    stack.append(target)
        for key in seen:
            reaches[key].add(node.key)
    return reaches


def _instant_cycles(graph):
    """Keys of nodes on a cycle made only of nodes that do not wait."""
    instant = {node.key for node in graph if not _waits(node)}
    on_cycle = set()
    for start in instant:
        stack, seen = [graph.by_key[start]], set()
        while stack:
            current = stack.pop()
            for _, target in graph.targets(current):
                if target is None or target.key not in instant:
                    continue
                if target.key == start:
                    on_cycle.add(start)
                    stack = []
                    break
                if target.key not in seen:
                    seen.add(target.key)
                    stack.append(target)
    return on_cycle


def flow_problems(nodes, *, tenant):
    """{node key (or "flow"): {field: [message]}} for a version's `nodes`; {} when it may
    be published."""
    problems = defaultdict(lambda: defaultdict(list))
    if not nodes:
        problems[FLOW]["nodes"].append("Add at least one step.")
        return _plain(problems)
    graph = Graph(nodes)
    for node in graph:
        for edge in node.edges or ():
            target = edge.get("to")
            if target and target not in graph.by_key:
                problems[node.key]["edges"].append(f"Path “{edge.get('label')}” leads to “{target}”, which is not in this flow.")
        labels = [edge.get("label") for edge in node.edges or ()]
        for label in sorted({label for label in labels if labels.count(label) > 1}):
            problems[node.key]["edges"].append(f"Two paths are labelled “{label}”.")
        try:
            step_type = step_types.step_type(node.kind)
        except step_types.UnknownStepKind:
            problems[node.key]["type"].append(f"There is no node type “{node.kind}”.")
            continue
        for field, messages in step_type.settings_problems(node, tenant=tenant).items():
            problems[node.key][field].extend(messages)
    for key in sorted(_instant_cycles(graph)):
        problems[key]["edges"].append(
            "This node is on a loop that never waits (no message, task, wait or delay on it): it would run forever.")
    earlier = _ancestors(graph)
    for node in graph:
        for ref in sorted(set(_refs(node.config)) | set(_refs(node.edges))):
            target = graph.by_key.get(ref)
            if target is None:
                problems[node.key]["conditions"].append(f"“{ref}” is not a node of this flow.")
            elif target.kind != "message":
                problems[node.key]["conditions"].append(f"“{ref}” is not a message node: it has no opens or clicks.")
            elif ref not in earlier[node.key]:
                problems[node.key]["conditions"].append(
                    f"“{target.title or ref}” cannot have run before this node, so nothing about it is known here.")
    return _plain(problems)


def _plain(problems):
    return {key: {field: list(messages) for field, messages in fields.items() if messages}
            for key, fields in problems.items() if any(fields.values())}
