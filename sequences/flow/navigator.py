"""Where an enrollment goes next: the graph of one sequence version.

A node's outgoing edges are `Step.edges`, in order, each {"label", "to": key|None, …}.
`follow(node, label)` takes the edge with that label; without one, the node's "next"
edge; without that, a node of a kind with one way out continues with the node below it
in the outline (a linear sequence is a chain that needs no edges). `to: None`, and the
end of the outline, end the flow. Every caller (enrollment, the processor, a completed
task, a publish) goes through these functions, so there is one rule for the path."""
from collections import defaultdict

from ..models import Step, StepKind

NEXT = "next"
# Kinds whose only way out is "next" (the others choose among their edges).
SINGLE_EXIT = {StepKind.MESSAGE, StepKind.TASK, StepKind.WAIT, StepKind.ACTION}


class Graph:
    """One version's nodes in outline order, by key and by id."""

    def __init__(self, nodes):
        self.nodes = sorted(nodes, key=lambda n: (n.order, n.pk or 0))
        self.by_key = {n.key: n for n in self.nodes}
        self.by_id = {n.pk: n for n in self.nodes}
        self._below = {n.key: (self.nodes[i + 1] if i + 1 < len(self.nodes) else None)
                       for i, n in enumerate(self.nodes)}

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    @property
    def first(self):
        return self.nodes[0] if self.nodes else None

    def edge(self, node, label):
        for edge in node.edges or ():
            if edge.get("label") == label:
                return edge
        return None

    def follow(self, node, label=NEXT):
        """The node `label` leads to from `node`, or None where the flow ends."""
        edge = self.edge(node, label) or (self.edge(node, NEXT) if label != NEXT else None)
        if edge is not None:
            return self.by_key.get(edge.get("to")) if edge.get("to") else None
        if node.kind in SINGLE_EXIT or label == NEXT:
            return self._below.get(node.key)
        return None

    def before(self, node):
        """The nodes that can run before `node` (a path leads from each to it), in
        outline order: what a condition at `node` may refer to."""
        incoming = defaultdict(set)
        for each in self.nodes:
            for _, target in self.targets(each):
                if target is not None:
                    incoming[target.key].add(each.key)
        seen, todo = set(), [node.key]
        while todo:
            for key in incoming[todo.pop()]:
                if key not in seen:
                    seen.add(key)
                    todo.append(key)
        return [each for each in self.nodes if each.key in seen]

    def targets(self, node):
        """[(label, target node or None)] of every way out of `node`, in order."""
        ways = [(edge.get("label", NEXT), self.by_key.get(edge.get("to"))) for edge in node.edges or ()]
        if node.kind in SINGLE_EXIT and not any(label == NEXT for label, _ in ways):
            ways.append((NEXT, self._below.get(node.key)))
        return ways


def graph_of(version_id):
    """The graph of one version (a user's action: one query)."""
    return Graph(Step.objects.filter(version_id=version_id))


def graphs_of(version_ids):
    """version id -> its graph, for many versions in one query (a batch's)."""
    nodes = defaultdict(list)
    for step in Step.objects.filter(version_id__any=list(version_ids)):
        nodes[step.version_id].append(step)
    return {version_id: Graph(nodes[version_id]) for version_id in version_ids}


def current_graph(sequence):
    """The graph new enrollments of `sequence` enter: its published version's."""
    return graph_of(sequence.current_version_id)


def steps_of(sequence_id):
    """The nodes of the sequence's current version, in outline order."""
    from ..models import Sequence

    version_id = Sequence.objects.filter(pk=sequence_id).values_list("current_version_id", flat=True).first()
    return graph_of(version_id).nodes


def first_node(graph):
    """The node a new enrollment starts on, or None for a version without nodes."""
    nodes = graph.nodes if isinstance(graph, Graph) else list(graph)
    return nodes[0] if nodes else None


def next_node(graph, current, label=NEXT):
    """The node after `current` by `label` (see Graph.follow), or None at the end."""
    if not isinstance(graph, Graph):
        graph = Graph(graph)
    return graph.follow(current, label)
