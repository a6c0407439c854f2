"""Step types: what the processor does at a step of each kind (Step.kind). One
registered implementation per kind; a kind with none is an error the enrollment shows,
never a fallback to another kind (a new kind must not become a rep's task by accident).

A step type runs for all the enrollments of a batch that are on a step of its kind and
passed every gate, with a fixed number of statements whatever their number (it reads
what exists and writes what is new set-based, through the batch's work)."""
from typing import Protocol

from scendcore.registry import Registry


class StepType(Protocol):
    kind: str
    # Resolved within the batch that reaches it (branch, split, action, exit): it sends
    # nothing, waits for nothing and creates no task. A cycle must pass through a node
    # that is not instant (checked at publish).
    instant: bool

    def run(self, work, enrollments: list) -> None:
        """Create (or follow, for a repeated execution) the step's work for each of
        `enrollments`, and move each on through `work.batch`."""

    def settings_problems(self, node, *, tenant) -> dict:
        """{field: [message]} for the node's settings and edges (its own rules: a
        branch's default path, a split's weights, an action's target); {} when valid.
        References to another tenant's objects are problems, as if they did not exist."""


class UnknownStepKind(LookupError):
    def __init__(self, kind):
        super().__init__(f"steps of kind {kind!r} cannot be run (no step type is registered for it)")
        self.kind = kind


_REGISTRY = Registry("step type", key="kind", missing=UnknownStepKind)
register = _REGISTRY.register
step_type = _REGISTRY.get
kinds = _REGISTRY.names


def _register_builtin():
    from .action import ActionStep
    from .branch import BranchStep
    from .exit import ExitStep
    from .message import MessageStep
    from .split import SplitStep
    from .task import TaskStep
    from .wait import WaitStep

    register(MessageStep())
    register(TaskStep())
    register(WaitStep())
    register(BranchStep())
    register(SplitStep())
    register(ActionStep())
    register(ExitStep())


_register_builtin()
