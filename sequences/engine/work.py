"""Step 3–5 for the enrollments that passed every gate: create the step's work exactly
once, draft, route by autonomy, advance.

Exactly once: every piece of work carries the key "enrollment:step:pass". Work that
already exists for a key (a repeated execution) is found first and followed, never
created again. The enrollments are locked for the whole batch, so what was found missing
stays missing until commit; the unique indexes are the last line of defence (see
writes.py).
"""
import functools
import time
from collections import defaultdict
from datetime import timedelta

from django.db import connection

from scendcore.lookups import array_literal

from ..models import Channel, Step, WaitingOn
from . import writes
from .writes import RowShape

MESSAGE_CHANNELS = (Channel.EMAIL, Channel.SMS)
DONE_STATES = ("approved", "queued", "sending", "sent", "unknown")
DEAD_STATES = ("cancelled", "failed", "bounced")
FIRST_RUN_GRACE = timedelta(minutes=2)


# One probe of the job's unique (enrollment, step, pass) index per enrollment. Written as
# LATERAL … LIMIT 1 so the planner cannot turn it into a scan of the whole job table,
# which it did for "enrollment_id = ANY(…)" while the table's statistics were stale.
JOBS_EXISTING_SQL = """
SELECT j.enrollment_id, j.id
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS k(enrollment_id, step_id, step_pass)
CROSS JOIN LATERAL (
    SELECT enrollment_id, id FROM agents_agentjob
    WHERE enrollment_id = k.enrollment_id AND step_id = k.step_id AND step_pass = k.step_pass
    LIMIT 1
) j
"""


def key_of(e):
    return f"{e.id}:{e.current_step_id}:{e.step_pass}"


def steps_by_sequence(sequence_ids):
    steps = defaultdict(list)
    for step in Step.objects.filter(sequence_id__any=list(sequence_ids)).order_by("sequence_id", "order", "id"):
        steps[step.sequence_id].append(step)
    return steps


def step_after(steps, current):
    for step in steps.get(current.sequence_id, ()):
        if step.order > current.order:
            return step
    return None


class _TemplateWriter:
    """The agent's persona with the built-in writer: talking points for a rep's task are
    written inline even when the agent drafts emails through a remote model."""

    provider = "template"

    def __init__(self, agent):
        self._agent = agent

    def __getattr__(self, name):
        return getattr(self._agent, name, "")


class StepWork:
    def __init__(self, *, batch, enrollments, steps):
        self.batch = batch
        self.now = batch.now
        self.enrollments = enrollments
        self.steps = steps

    def run(self):
        from messaging.models import OutboundMessage, Task

        keys = {key_of(e): e for e in self.enrollments}
        messages = dict(
            OutboundMessage.objects.filter(idempotency_key__any=list(keys)).values_list("idempotency_key", "state")
        )
        tasks = dict(Task.objects.filter(idempotency_key__any=list(keys)).values_list("idempotency_key", "status"))
        fresh_messages, fresh_tasks = [], []
        for key, e in keys.items():
            channel = e.current_step.channel
            if key in messages:
                self.follow_message(e, messages[key])
            elif key in tasks:
                self.follow_task(e, tasks[key])
            elif channel in MESSAGE_CHANNELS:
                skip = self.channel_refusal(e)
                if skip:
                    self.batch.advance(e, self.steps, skipped=skip)
                else:
                    fresh_messages.append(e)
            else:
                fresh_tasks.append(e)
        if fresh_messages:
            self.messages_create(fresh_messages)
        if fresh_tasks:
            self.tasks_create(fresh_tasks)

    # ------------------------------------------------------------ repeated execution

    def follow_message(self, e, state):
        if state == "draft":
            self.batch.wait(e, WaitingOn.AGENT, "Agent drafting")
        elif state == "pending_approval":
            self.batch.wait(e, WaitingOn.APPROVAL, "Waiting for approval")
        elif state in DONE_STATES:
            self.batch.advance(e, self.steps, executed="Message for this step already existed")
        else:
            self.batch.advance(e, self.steps, skipped=f"The step's message is {state}")

    def follow_task(self, e, status):
        if status == "open":
            self.batch.wait(e, WaitingOn.TASK, "Waiting for the rep's task")
        elif status == "completed":
            self.batch.advance(e, self.steps, executed="Task already completed")
        else:
            self.batch.advance(e, self.steps, skipped="Task skipped")

    def channel_refusal(self, e):
        contact = e.contact
        if e.current_step.channel == Channel.SMS:
            if contact.sms_opted_out_at:
                return "Skipped: the contact opted out of SMS"
            if not contact.phone:
                return "Skipped: the contact has no phone number"
        return ""

    # ------------------------------------------------------------ drafting

    def threads(self, enrollments):
        from messaging.models import OutboundMessage

        threads = defaultdict(list)
        rows = (
            OutboundMessage.objects.filter(enrollment_id__any=[e.id for e in enrollments], state="sent")
            .only("id", "enrollment_id", "subject", "body_text", "sent_at", "created_at", "channel")
            .order_by("sent_at", "created_at", "id")
        )
        for message in rows:
            threads[message.enrollment_id].append(message)
        return threads

    def draft(self, e, agent, thread):
        from agents.drafting import DraftRequest, draft

        request = DraftRequest(
            agent=agent, tenant=e.sequence.tenant, contact=e.contact, step=e.current_step,
            channel=e.current_step.channel, thread=tuple(thread),
        )
        return draft(request)

    # ------------------------------------------------------------ messages

    def messages_create(self, enrollments):
        from agents.drafting import DraftError
        from agents.models import AgentJob
        from agents.services import review_reasons
        from approvals.services import content_hash
        from messaging.models import OutboundMessage

        jobs_shape, messages_shape = _shape(AgentJob, with_pk=True), _shape(OutboundMessage)
        threads = self.threads(enrollments)
        now = self.now
        job_ids = self.jobs_existing(enrollments)
        fresh_ids = iter(writes.allocate_ids(AgentJob, len(enrollments) - len(job_ids)))
        jobs, drafts, failures = [], {}, {}
        for e in enrollments:
            agent = e.sequence.agent
            provider = getattr(agent, "provider", "template") or "template"
            values = dict(
                tenant_id=e.tenant_id, agent_id=getattr(agent, "pk", None), enrollment_id=e.id,
                step_id=e.current_step_id, step_pass=e.step_pass, provider=provider, created_at=now,
            )
            if provider == "template":
                started = time.perf_counter()
                try:
                    result = self.draft(e, agent, threads.get(e.id, ()))
                except DraftError as exc:
                    failures[e.id] = str(exc)
                    values.update(status="failed", error=str(exc)[:2000], finished_at=now, attempts=1)
                else:
                    drafts[e.id] = result
                    values.update(status="succeeded", attempts=1, finished_at=now, provider=result.provider,
                                  prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)
                values["duration_ms"] = int((time.perf_counter() - started) * 1000)
            else:
                values.update(status="queued", next_attempt_at=now + FIRST_RUN_GRACE)
            if e.id not in job_ids:  # a repeated execution keeps the job it made before
                job_ids[e.id] = values["id"] = next(fresh_ids)
                jobs.append(jobs_shape.row(**values))
        jobs_shape.insert(jobs)

        messages, approvals, queued, remote, notes = [], [], 0, [], {}
        for e in enrollments:
            job_id = job_ids[e.id]
            step, contact, sequence = e.current_step, e.contact, e.sequence
            values = dict(
                tenant_id=e.tenant_id, idempotency_key=key_of(e), enrollment_id=e.id, step_id=step.id,
                step_pass=e.step_pass, contact_id=contact.id, agent_job_id=job_id, channel=step.channel,
                to_address=contact.phone if step.channel == Channel.SMS else contact.email,
                state="draft", created_at=now, updated_at=now,
            )
            if e.id in failures:
                messages.append(messages_shape.row(**values))
                self.batch.wait(e, WaitingOn.AGENT, f"Drafting failed: {failures[e.id]}"[:300])
                continue
            if e.id not in drafts:
                messages.append(messages_shape.row(**values))
                remote.append((e.tenant_id, job_id))
                self.batch.wait(e, WaitingOn.AGENT, "Agent drafting")
                continue
            result = drafts[e.id]
            values.update(subject=result.subject, body_text=result.body_text, body_html=result.body_html,
                          flags=list(result.flags))
            reasons = review_reasons(agent=sequence.agent, step=step, draft=result, tenant=sequence.tenant,
                                     owner_role=sequence.owner_role)
            if reasons:
                values["state"] = "pending_approval"
                approvals.append((values["idempotency_key"], e, reasons))
                self.batch.wait(e, WaitingOn.APPROVAL, ("Waiting for approval: " + "; ".join(reasons))[:300])
            else:
                values.update(state="queued", approved_content_hash=content_hash(result.subject, result.body_text),
                              queued_at=now, next_attempt_at=now)
                queued += 1
                if step.id not in notes:  # the display lookup costs more than the rest of advance
                    notes[step.id] = f"{step.get_channel_display()} queued for delivery (sent without review)"
                self.batch.advance(e, self.steps, executed=notes[step.id])
            messages.append(messages_shape.row(**values))
        messages_shape.insert(messages)
        if approvals:
            self.approvals_create(approvals)
        if queued:
            self.batch.after_commit.append(_kick_delivery)
        for tenant_id, job_id in remote:
            self.batch.after_commit.append(_run_job(tenant_id, job_id))

    def jobs_existing(self, enrollments):
        """enrollment id -> the agent job an earlier execution of this very step and pass
        made (its message is gone, or the step would have been followed instead)."""
        from agents.models import AgentJob

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(JOBS_EXISTING_SQL, [
                    array_literal([e.id for e in enrollments])[0],
                    array_literal([e.current_step_id for e in enrollments])[0],
                    array_literal([e.step_pass for e in enrollments])[0],
                ])
                return dict(cursor.fetchall())
        wanted = {(e.id, e.current_step_id, e.step_pass) for e in enrollments}
        found = AgentJob.objects.filter(enrollment_id__in=[e.id for e in enrollments]).values_list(
            "enrollment_id", "step_id", "step_pass", "pk"
        )
        return {enrollment_id: pk for enrollment_id, step_id, step_pass, pk in found
                if (enrollment_id, step_id, step_pass) in wanted}

    def approvals_create(self, approvals):
        """The bulk equivalent of approvals.services.approval_request_create."""
        from approvals.models import ApprovalRequest
        from messaging.models import OutboundMessage

        ids = dict(
            OutboundMessage.objects.filter(idempotency_key__any=[key for key, _, _ in approvals])
            .values_list("idempotency_key", "pk")
        )
        shape = _shape(ApprovalRequest)
        rows = []
        for key, e, reasons in approvals:
            hours = e.sequence.approval_expiry_hours
            rows.append(shape.row(
                tenant_id=e.tenant_id, message_id=ids[key], enrollment_id=e.id, status="pending",
                review_reasons=list(reasons), created_at=self.now,
                expires_at=self.now + timedelta(hours=hours) if hours else None,
            ))
        shape.insert(rows, once=True)

    # ------------------------------------------------------------ tasks

    def tasks_create(self, enrollments):
        from messaging.models import Task

        shape = _shape(Task)
        threads = self.threads(enrollments)
        rows = []
        for e in enrollments:
            step, contact, sequence = e.current_step, e.contact, e.sequence
            agent = sequence.agent
            writer = agent if getattr(agent, "provider", "template") == "template" else _TemplateWriter(agent)
            result = self.draft(e, writer, threads.get(e.id, ()))
            is_call = Channel.CALL_REMINDER in (step.channel, step.job_type)
            owner_id = contact.owner_id or sequence.owner_id
            rows.append(shape.row(
                tenant_id=e.tenant_id, idempotency_key=key_of(e), owner_id=owner_id, contact_id=contact.id,
                enrollment_id=e.id, step_id=step.id, step_pass=e.step_pass,
                kind="call_reminder" if is_call else "task", title=result.subject[:300],
                talking_points=result.body_text, due_at=self.now, created_at=self.now, status="open",
            ))
            who = "the contact's owner" if contact.owner_id else ("the sequence owner" if owner_id else "nobody (no owner)")
            self.batch.wait(e, WaitingOn.TASK, f"{'Call' if is_call else 'Task'} waiting for {who}")
        shape.insert(rows, once=True)


@functools.cache
def _shape(model, with_pk=False):
    return RowShape(model, with_pk=with_pk)


def _kick_delivery():
    from django.conf import settings

    from messaging.tasks import deliver_due

    if not getattr(settings, "PROCESSOR_KICK_DELIVERY", True):
        return
    deliver_due.delay()


def _run_job(tenant_id, job_id):
    def kick():
        from agents.tasks import run_agent_job

        run_agent_job.delay(tenant_id, job_id)

    return kick
