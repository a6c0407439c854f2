"""An exit node: the flow ends here for the enrollment, with the node's reason (status
exited; the step's pending work, if any, is cancelled)."""
from ...models import StepKind

DEFAULT_REASON = "reached an exit"
MAX_REASON = 200


def reason_of(node):
    reason = (node.config or {}).get("reason") if isinstance(node.config, dict) else ""
    return str(reason or "").strip() or DEFAULT_REASON


class ExitStep:
    kind = StepKind.EXIT
    instant = True

    def settings_problems(self, node, *, tenant):
        reason = (node.config or {}).get("reason", "") if isinstance(node.config, dict) else ""
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            return {"reason": [f"The reason is text of at most {MAX_REASON} characters."]}
        return {}

    def run(self, work_, enrollments):
        for e in enrollments:
            work_.batch.leave(e, reason_of(e.current_step))
