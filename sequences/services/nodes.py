"""Adding, changing and deleting one node of a sequence's flow, as the builder's outline
does it. Every write goes to the version being edited (`editing_version`: the published
one until enrollments are pinned to it, then a draft), so nobody's path changes under
them; a node is found there by its key, which a draft keeps.

Settings are given in the shared formats: Step columns in `values` (message and task
settings, and every node's delay), the rest in `config`, outgoing paths in `edges`.
Their sense as a flow (a branch's default, a split's weights, references) is the
publish check's (`flow_problems`), shown on each node in the outline; here only what
would make the stored document unreadable is refused."""
from django.core.exceptions import ValidationError
from django.db import transaction

from ..flow.definition import EDGE_FIELDS, MAX_EDGES, MAX_TITLE, NODE_COLUMNS
from ..flow.navigator import NEXT, SINGLE_EXIT
from ..flow.rewire import next_edge, paths_without
from ..models import Step, StepKind, new_node_key
from .editing import audit, lock_editable, touch
from .steps import defaults_for, normalized, step_errors
from .versions import editing_version

# A node of these kinds is a message or a rep's task: its columns follow the step rules.
COLUMN_KINDS = (StepKind.MESSAGE, StepKind.TASK)


def _nodes(version):
    return list(Step.objects.filter(version=version).order_by("order", "pk"))


def _check(*, kind, title, values, edges, nodes, is_first, own_key=None):
    errors = {}
    if kind not in StepKind.values:
        errors["kind"] = [f"There is no node type “{kind}”."]
    if len(title or "") > MAX_TITLE:
        errors["title"] = [f"The name is at most {MAX_TITLE} characters."]
    unknown = sorted(set(values) - set(NODE_COLUMNS))
    if unknown:
        errors["values"] = [f"Unknown settings: {', '.join(unknown)}."]
    if kind in COLUMN_KINDS:
        errors.update(step_errors(values, is_first=is_first))
    keys = {node.key for node in nodes} | {own_key}
    if len(edges) > MAX_EDGES:
        errors.setdefault("edges", []).append(f"A node has at most {MAX_EDGES} paths.")
    for edge in edges:
        if set(edge) - set(EDGE_FIELDS) or not str(edge.get("label") or "").strip():
            errors.setdefault("edges", []).append("Every path has a label and only known fields.")
        elif edge.get("to") is not None and edge["to"] not in keys:
            errors.setdefault("edges", []).append(f"Path “{edge['label']}” leads to a node that is not in this flow.")
    if errors:
        raise ValidationError(errors)


def _renumber(nodes):
    changed = []
    for order, node in enumerate(nodes, start=1):
        if node.order != order:
            node.order = order
            changed.append(node)
    Step.objects.bulk_update(changed, ["order"])


def _in_version(version, node):
    """`node` as it is in `version` (a draft made a moment ago holds a copy by key)."""
    found = Step.objects.filter(version=version, key=node.key).first()
    if found is None:
        raise ValidationError("This node is no longer in the flow.")
    return found


@transaction.atomic
def node_add(*, tenant, sequence, actor, kind, after=None, title="", values=None, config=None, edges=None):
    """Add a node below the node keyed `after` (at the end without one). When that node's
    "next" path led to another node, it now leads to the new one, and the new node (of a
    kind with one way out) continues where that path went, so it sits on the path."""
    sequence = lock_editable(tenant=tenant, sequence=sequence)
    version = editing_version(sequence=sequence, actor=actor)
    nodes = _nodes(version)
    values, config, edges = dict(values or {}), dict(config or {}), [dict(e) for e in edges or ()]
    index = len(nodes)
    if after is not None:
        index = next((i + 1 for i, node in enumerate(nodes) if node.key == after), None)
        if index is None:
            raise ValidationError("The node to add after is no longer in the flow.")
    if kind in COLUMN_KINDS:
        values = normalized({**defaults_for(is_first=index == 0), **values})
    key = new_node_key(kind)
    _check(kind=kind, title=title, values=values, edges=edges, nodes=nodes, is_first=index == 0, own_key=key)
    above = nodes[index - 1] if index else None
    rewired = []
    # A "next" that ends the flow is a deliberate stop: the new node only sits below it.
    if above is not None and above.kind in SINGLE_EXIT and (next_edge(above) or {}).get("to") is not None:
        onward = next_edge(above)
        if kind in SINGLE_EXIT and not any(edge.get("label") == NEXT for edge in edges):
            edges.append({"label": NEXT, "to": onward.get("to")})
        onward["to"] = key
        rewired.append(above)
    node = Step(tenant=tenant, sequence=sequence, version=version, key=key, kind=kind, title=title or "",
                order=index + 1, config=config, edges=edges, **values)
    for later in nodes[index:]:
        later.order += 1
    Step.objects.bulk_update(nodes[index:], ["order"])
    node.save()
    Step.objects.bulk_update(rewired, ["edges"])
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="node_added",
          changes={"version": version.number, "key": key, "type": kind, "order": node.order})
    return node


@transaction.atomic
def node_update(*, tenant, sequence, node, actor, title=None, values=None, config=None, edges=None):
    """Change a node's name, settings and paths (None leaves that part as it is)."""
    sequence = lock_editable(tenant=tenant, sequence=sequence)
    version = editing_version(sequence=sequence, actor=actor)
    node = _in_version(version, node)
    nodes = _nodes(version)
    title = node.title if title is None else title
    merged = {name: getattr(node, name) for name in NODE_COLUMNS} | dict(values or {})
    if node.kind in COLUMN_KINDS:
        merged = normalized(merged)
    config = dict(node.config or {}) if config is None else dict(config)
    edges = [dict(e) for e in (node.edges or ())] if edges is None else [dict(e) for e in edges]
    checked = merged if node.kind in COLUMN_KINDS else dict(values or {})
    _check(kind=node.kind, title=title, values=checked, edges=edges, nodes=nodes, is_first=nodes[0].key == node.key)
    changed = [name for name in NODE_COLUMNS if getattr(node, name) != merged[name]]
    changed += [part for part, old, new in (("title", node.title, title), ("config", node.config, config),
                                            ("edges", node.edges, edges)) if old != new]
    if not changed:
        return node
    for name in NODE_COLUMNS:
        setattr(node, name, merged[name])
    node.title, node.config, node.edges = title, config, edges
    node.save()
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="node_updated",
          changes={"version": version.number, "key": node.key, "changed": changed})
    return node


@transaction.atomic
def node_delete(*, tenant, sequence, node, actor):
    """Delete a node; the paths that led to it lead to its continuation instead."""
    sequence = lock_editable(tenant=tenant, sequence=sequence)
    version = editing_version(sequence=sequence, actor=actor)
    key = _in_version(version, node).key
    nodes = _nodes(version)
    node = next(n for n in nodes if n.key == key)
    redirected = paths_without(nodes, node)
    Step.objects.bulk_update(redirected, ["edges"])
    node.delete()
    _renumber([n for n in nodes if n.key != node.key])
    touch(sequence=sequence, actor=actor)
    audit(tenant=tenant, actor=actor, sequence=sequence, action="node_deleted",
          changes={"version": version.number, "key": node.key, "type": node.kind,
                   "redirected": sorted(n.key for n in redirected)})
    return node
