"""A branch node (router): ordered rules, the first whose condition matches chooses the
path; a required default path takes everyone else. Instant: it sends nothing and waits
for nothing. All rules of all the batch's branch nodes are evaluated together (one query
per condition family, engine.conditions), then each enrollment takes its path with an
activity row saying why ("because the contact clicked …/book-demo at …"). A rule whose
condition refers to something deleted sends the enrollment down the default path, and
the row says which rule and why."""
from ...flow import navigator, transitions
from ...models import StepKind
from .. import conditions

DEFAULT = "default"


def rules_of(node):
    """The node's rules in order: its edges other than the default path."""
    return [edge for edge in (node.edges or []) if isinstance(edge, dict) and edge.get("label") != DEFAULT]


def earlier_message_keys(node, graph=None):
    """Keys of the message nodes that can run before `node` in its version (read from
    the saved version unless `graph` is given), or None when `node` is not in it (a
    definition being checked before it is saved: the flow's validation checks its
    references against the whole graph)."""
    if graph is None:
        graph = navigator.graph_of(node.version_id) if node.version_id else None
    if graph is None or node.key not in graph.by_key:
        return None
    return {each.key for each in graph.before(node) if each.kind == StepKind.MESSAGE}


class BranchStep:
    kind = StepKind.BRANCH
    instant = True

    def settings_problems(self, node, *, tenant, graph=None):
        errors = {}

        def add(message):
            if message not in errors.setdefault("edges", []):
                errors["edges"].append(message)

        edges = node.edges
        if not isinstance(edges, list) or not all(isinstance(edge, dict) for edge in edges):
            return {"edges": ["A branch's paths are a list of rules and a default path."]}
        labels = [edge.get("label") for edge in edges]
        if DEFAULT not in labels:
            add("A branch needs a default path (an edge labelled “default”) for contacts no rule matches.")
        elif labels[-1] != DEFAULT or labels.count(DEFAULT) > 1:
            add("The default path comes once, after every rule.")
        rules = rules_of(node)
        if not rules:
            add("A branch needs at least one rule before its default path.")
        seen = set()
        earlier = earlier_message_keys(node, graph) if rules else None
        for position, edge in enumerate(rules, start=1):
            label = edge.get("label")
            if not isinstance(label, str) or not label.strip():
                add(f"Rule {position} needs a label.")
                label = f"rule {position}"
            elif label in seen:
                add(f"Two rules are labelled “{label}”: each path needs its own label.")
            seen.add(label)
            if "condition" not in edge:
                add(f"Rule “{label}” needs a condition.")
                continue
            for message in conditions.problems(edge["condition"], tenant=tenant, earlier_message_keys=earlier):
                add(f"Rule “{label}”: {message}")
        return errors

    def run(self, work_, enrollments):
        batch = work_.batch
        context = conditions.Context(now=batch.now, graph_for=batch.graph_for)
        pairs, positions = [], []
        for e in enrollments:
            for position, edge in enumerate(rules_of(e.current_step)):
                pairs.append((e, edge.get("condition")))
                positions.append((e.id, position))
        outcomes = dict(zip(positions, conditions.outcomes_for(pairs, context=context)))
        for e in enrollments:
            label, because, data = self.choose(e, outcomes)
            batch.activities += transitions.path(e, label, at=batch.now, because=because, data=data)
            batch.advance(e, label=label, executed=f"Branch “{e.current_step.title or e.current_step.key}”: {label}")

    @staticmethod
    def choose(e, outcomes):
        """(label, because, data) of the path `e` takes."""
        for position, edge in enumerate(rules_of(e.current_step)):
            outcome = outcomes[e.id, position]
            label = edge.get("label") or f"rule {position + 1}"
            if outcome.missing:
                return DEFAULT, f"rule “{label}” could not be checked ({outcome.missing}): default", {
                    "rule": label, "missing": outcome.missing}
            if outcome.matched:
                return label, outcome.because or f"rule “{label}” matched", {"rule": label}
        return DEFAULT, "no rule matched: default", {}
