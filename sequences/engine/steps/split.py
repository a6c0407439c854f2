"""A split (A/B/n): each enrollment takes one of the node's weighted arms, the same one
whenever the node is evaluated again (the arm is derived from the enrollment and the
node, never drawn at random). An optional holdout arm ends the flow as "holdout". The arm
taken is a path activity row ({"arm": label}) and is kept in the enrollment's context
under "_arms", for analytics."""
import hashlib

from ...flow import context as flow_context
from ...flow import transitions
from ...models import StepKind

HOLDOUT = "holdout"


def arms_of(node):
    return [edge for edge in node.edges or () if isinstance(edge, dict)]


def arm_for(enrollment_id, node_key, arms):
    """The arm (one of `arms`, each with a positive "weight") of this enrollment at this
    node: a point of sha256(f"{enrollment_id}:{node_key}") over the summed weights."""
    total = sum(arm["weight"] for arm in arms)
    digest = hashlib.sha256(f"{enrollment_id}:{node_key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for arm in arms:
        point -= arm["weight"]
        if point < 0:
            return arm
    raise AssertionError("unreachable: the point lies within the total weight")


def arms_problems(arms):
    problems = []
    if len(arms) < 2:
        problems.append("A split needs at least two arms.")
    labels = [str(arm.get("label") or "").strip() for arm in arms]
    if any(not label for label in labels):
        problems.append("Every arm needs a label.")
    if len(set(labels)) != len(labels):
        problems.append("Two arms have the same label.")
    for arm, label in zip(arms, labels):
        weight = arm.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            problems.append(f"Arm “{label}”: the weight is a whole number of at least 1.")
        if not arm.get("holdout") and not arm.get("to"):
            problems.append(f"Arm “{label}”: choose the node it leads to.")
    if sum(1 for arm in arms if arm.get("holdout")) > 1:
        problems.append("A split has at most one holdout arm.")
    return problems


class SplitStep:
    kind = StepKind.SPLIT
    instant = True

    def settings_problems(self, node, *, tenant):
        problems = arms_problems(arms_of(node))
        return {"edges": problems} if problems else {}

    def run(self, work_, enrollments):
        batch, now = work_.batch, work_.now
        broken = {}
        for e in enrollments:
            node = e.current_step
            arms = arms_of(node)
            if node.id not in broken:
                broken[node.id] = arms_problems(arms)
            if broken[node.id]:
                batch.fail(e, f"split “{node.title or node.key}”: {' '.join(broken[node.id])}")
                continue
            arm = arm_for(e.id, node.key, arms)
            label, total = arm["label"], sum(a["weight"] for a in arms)
            batch.activities += transitions.path(
                e, label, at=now, data={"arm": label},
                because=f"the split gives this contact arm “{label}” (weight {arm['weight']} of {total})",
            )
            try:
                e.context = flow_context.with_arm(e.context, node.key, label)
            except flow_context.ContextRefused:
                pass  # a context already at its bound: the path row above still records the arm
            if arm.get("holdout"):
                batch.leave(e, HOLDOUT, data={"arm": label})
            else:
                batch.advance(e, executed=f"Split: arm “{label}”", label=label)
