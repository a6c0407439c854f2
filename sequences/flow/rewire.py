"""What happens to the paths of a flow when one of its nodes is removed: every path that
led to it leads where it would have continued. One rule, used by every delete."""
from .navigator import NEXT, SINGLE_EXIT, Graph

# The path a removed node's incoming paths are redirected to, in this order of preference.
CONTINUATION_LABELS = (NEXT, "default")


def next_edge(node):
    return next((edge for edge in node.edges or () if edge.get("label") == NEXT), None)


def continuation(graph, node):
    """The key a node's incoming paths lead to once it is gone (None: the flow ends):
    where its "next" path (a branch's default) goes, else the node below it for a kind
    with one way out."""
    for label in CONTINUATION_LABELS:
        edge = graph.edge(node, label)
        if edge is not None:
            return edge.get("to")
    if node.kind in SINGLE_EXIT:
        below = graph.follow(node, NEXT)
        return below.key if below is not None else None
    return None


def paths_without(nodes, removed):
    """Redirect every path into `removed` (explicit, or the node above it continuing
    below) to its continuation. Returns the nodes whose edges changed (unsaved)."""
    graph = Graph(nodes)
    target = continuation(graph, removed)
    changed = []
    for node in graph:
        if node.key == removed.key:
            continue
        edges = node.edges or []
        touched = False
        for edge in edges:
            if edge.get("to") == removed.key:
                edge["to"] = target
                touched = True
        # Once `removed` is gone, a node that continued into it continues with the node
        # below it; where that is not the continuation, the path is made explicit.
        falls_into = node.kind in SINGLE_EXIT and next_edge(node) is None and graph.follow(node) is removed
        if falls_into and target != _below(graph, removed):
            node.edges = [*edges, {"label": NEXT, "to": target}]
            touched = True
        if touched:
            changed.append(node)
    return changed


def _below(graph, node):
    index = graph.nodes.index(node)
    return graph.nodes[index + 1].key if index + 1 < len(graph.nodes) else None


