"""A task or call step: a rep's task with talking points; the enrollment waits for the
rep to complete or skip it."""
from ...flow import navigator
from ...models import Channel, StepKind, WaitingOn
from .. import work


class _TemplateWriter:
    """The agent's persona with the built-in writer: talking points for a rep's task are
    written inline even when the agent drafts emails through a remote model."""

    provider = "template"

    def __init__(self, agent):
        self._agent = agent

    def __getattr__(self, name):
        return getattr(self._agent, name, "")


class TaskStep:
    kind = StepKind.TASK
    instant = False

    def settings_problems(self, node, *, tenant):
        from ...services.steps import step_errors, step_values

        return step_errors(step_values(node), is_first=node.order == 1)

    def run(self, work_, enrollments):
        from messaging.models import Task

        batch = work_.batch
        keys = {work.key_of(e): e for e in enrollments}
        existing = {
            key: (status, outcome) for key, status, outcome in Task.objects.filter(idempotency_key__any=list(keys))
            .values_list("idempotency_key", "status", "outcome")
        }
        fresh = []
        for key, e in keys.items():
            if key in existing:
                self.follow(batch, e, *existing[key])
            else:
                fresh.append(e)
        if fresh:
            self.create(work_, fresh)

    def follow(self, batch, e, status, outcome=""):
        if status == "open":
            batch.wait(e, WaitingOn.TASK, "Waiting for the rep's task")
        elif status == "completed":
            batch.advance(e, executed="Task already completed", label=outcome or navigator.NEXT)
        else:
            batch.advance(e, skipped="Task skipped")

    def create(self, work_, enrollments):
        from messaging.models import Task

        batch, now = work_.batch, work_.now
        shape = work.shape(Task)
        threads = work_.threads(enrollments)
        rows = []
        for e in enrollments:
            step, contact, sequence = e.current_step, e.contact, e.sequence
            agent = sequence.agent
            writer = agent if getattr(agent, "provider", "template") == "template" else _TemplateWriter(agent)
            result = work_.draft(e, writer, threads.get(e.id, ()))
            is_call = Channel.CALL_REMINDER in (step.channel, step.job_type)
            owner_id = contact.owner_id or sequence.owner_id
            rows.append(shape.row(
                tenant_id=e.tenant_id, idempotency_key=work.key_of(e), owner_id=owner_id, contact_id=contact.id,
                enrollment_id=e.id, step_id=step.id, step_pass=e.step_pass,
                kind="call_reminder" if is_call else "task", title=result.subject[:300],
                talking_points=result.body_text, due_at=now, created_at=now, status="open",
            ))
            who = "the contact's owner" if contact.owner_id else ("the sequence owner" if owner_id else "nobody (no owner)")
            batch.wait(e, WaitingOn.TASK, f"{'Call' if is_call else 'Task'} waiting for {who}")
        shape.insert(rows, once=True)
