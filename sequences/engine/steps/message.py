"""A message step: the agent drafts an email or SMS for the contact; the draft waits for
review or goes to the outbox, by the agent's autonomy and the step's settings."""
import time
from datetime import timedelta

from django.db import connection

from messaging.models import STEP_DONE_STATES
from scendcore import jobs
from scendcore.bulk import allocate_ids
from scendcore.lookups import array_literal

from ...models import Channel, StepKind, WaitingOn
from .. import work

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


def test_recipients(enrollments):
    """enrollment id -> the rep's own address a test-mode message goes to: the enrolling
    user's, else the sequence owner's (one query for the batch)."""
    from django.contrib.auth import get_user_model

    wanted = {e.id: (e.enrolled_by_id, e.sequence.owner_id) for e in enrollments}
    user_ids = {pk for pair in wanted.values() for pk in pair if pk}
    emails = dict(get_user_model().objects.filter(pk__in=user_ids).exclude(email="").values_list("pk", "email")) \
        if user_ids else {}
    found = {}
    for enrollment_id, (enrolled_by, owner) in wanted.items():
        address = emails.get(enrolled_by) or emails.get(owner)
        if address:
            found[enrollment_id] = address
    return found


class MessageStep:
    kind = StepKind.MESSAGE
    instant = False

    def settings_problems(self, node, *, tenant):
        from ...services.steps import step_errors, step_values

        return step_errors(step_values(node), is_first=node.order == 1)

    def run(self, work_, enrollments):
        from messaging.models import OutboundMessage

        batch = work_.batch
        keys = {work.key_of(e): e for e in enrollments}
        existing = dict(
            OutboundMessage.objects.filter(idempotency_key__any=list(keys)).values_list("idempotency_key", "state")
        )
        self.test_to = test_recipients([e for e in enrollments if e.sequence.test_mode])
        fresh = []
        for key, e in keys.items():
            if key in existing:
                self.follow(batch, e, existing[key])
                continue
            refusal = self.refusal(e)
            if refusal:
                batch.advance(e, skipped=refusal)
            else:
                fresh.append(e)
        if fresh:
            self.create(work_, fresh)

    def follow(self, batch, e, state):
        """A repeated execution: the step's message exists; go on from where it is."""
        if state == "draft":
            batch.wait(e, WaitingOn.AGENT, "Agent drafting")
        elif state == "pending_approval":
            batch.wait(e, WaitingOn.APPROVAL, "Waiting for approval")
        elif state in STEP_DONE_STATES:
            batch.advance(e, executed="Message for this step already existed")
        else:
            batch.advance(e, skipped=f"The step's message is {state}")

    def refusal(self, e):
        contact = e.contact
        if e.sequence.test_mode:
            # Visible skips, never a send to the contact: test mode has only an email
            # address of the rep's to send to.
            if e.current_step.channel == Channel.SMS:
                return "Skipped: test mode sends email only, to the rep's own address"
            if not self.test_to.get(e.id):
                return "Skipped: test mode, and neither the enrolling user nor the owner has an email address"
        if e.current_step.channel == Channel.SMS:
            if contact.sms_opted_out_at:
                return "Skipped: the contact opted out of SMS"
            if not contact.phone:
                return "Skipped: the contact has no phone number"
        return ""

    def create(self, work_, enrollments):
        from agents.drafting import DraftError
        from agents.models import AgentJob
        from approvals.routing import content_hash, review_reasons
        from messaging.models import OutboundMessage

        batch = work_.batch
        jobs_shape, messages_shape = work.shape(AgentJob, with_pk=True), work.shape(OutboundMessage)
        threads = work_.threads(enrollments)
        now = work_.now
        job_ids = self.jobs_existing(enrollments)
        fresh_ids = iter(allocate_ids(AgentJob, len(enrollments) - len(job_ids)))
        rows, drafts, failures = [], {}, {}
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
                    result = work_.draft(e, agent, threads.get(e.id, ()))
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
                rows.append(jobs_shape.row(**values))
        jobs_shape.insert(rows)

        messages, approvals, queued, remote, notes = [], [], 0, [], {}
        for e in enrollments:
            job_id = job_ids[e.id]
            step, contact, sequence = e.current_step, e.contact, e.sequence
            values = dict(
                tenant_id=e.tenant_id, idempotency_key=work.key_of(e), enrollment_id=e.id, step_id=step.id,
                step_pass=e.step_pass, contact_id=contact.id, agent_job_id=job_id, channel=step.channel,
                to_address=contact.phone if step.channel == Channel.SMS else contact.email,
                state="draft", created_at=now, updated_at=now,
            )
            if sequence.test_mode:
                values.update(to_address=self.test_to[e.id], test_intended_to=values["to_address"])
            if e.id in failures:
                messages.append(messages_shape.row(**values))
                batch.wait(e, WaitingOn.AGENT, f"Drafting failed: {failures[e.id]}"[:300])
                continue
            if e.id not in drafts:
                messages.append(messages_shape.row(**values))
                remote.append((e.tenant_id, job_id))
                batch.wait(e, WaitingOn.AGENT, "Agent drafting")
                continue
            result = drafts[e.id]
            values.update(subject=result.subject, body_text=result.body_text, body_html=result.body_html,
                          flags=list(result.flags), signed_by=result.signed_by)
            reasons = review_reasons(agent=sequence.agent, step=step, draft=result, tenant=sequence.tenant,
                                     owner_role=sequence.owner_role)
            if reasons:
                values["state"] = "pending_approval"
                approvals.append((values["idempotency_key"], e, reasons))
                batch.wait(e, WaitingOn.APPROVAL, ("Waiting for approval: " + "; ".join(reasons))[:300])
            else:
                values.update(state="queued", approved_content_hash=content_hash(result.subject, result.body_text),
                              queued_at=now, next_attempt_at=now)
                queued += 1
                if step.id not in notes:  # the display lookup costs more than the rest of advance
                    notes[step.id] = f"{step.get_channel_display()} queued for delivery (sent without review)"
                batch.advance(e, executed=notes[step.id])
            messages.append(messages_shape.row(**values))
        messages_shape.insert(messages)
        if approvals:
            self.approvals_create(work_, approvals)
        if queued:
            work.kick_delivery()
        for tenant_id, job_id in remote:
            jobs.start("agents.run_agent_job", tenant_id, job_id)

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

    def approvals_create(self, work_, approvals):
        """The bulk equivalent of approvals.services.approval_request_create."""
        from approvals.models import ApprovalRequest
        from messaging.models import OutboundMessage

        ids = dict(
            OutboundMessage.objects.filter(idempotency_key__any=[key for key, _, _ in approvals])
            .values_list("idempotency_key", "pk")
        )
        shape = work.shape(ApprovalRequest)
        now = work_.now
        rows = []
        for key, e, reasons in approvals:
            hours = e.sequence.approval_expiry_hours
            rows.append(shape.row(
                tenant_id=e.tenant_id, message_id=ids[key], enrollment_id=e.id, status="pending",
                review_reasons=list(reasons), created_at=now,
                expires_at=now + timedelta(hours=hours) if hours else None,
            ))
        shape.insert(rows, once=True)
