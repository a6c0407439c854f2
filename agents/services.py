"""Writes for agents: configuration (audited), drafting jobs, and routing a finished
draft to the approval queue or to delivery."""
import logging
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from approvals.routing import review_reasons, route_draft
from scendcore import credentials, jobs
from scendcore.models import AuditEntry
from scendcore.tenancy import role_of
from sequences.flow import single, store
from sequences.models import EnrollmentStatus, WaitingOn

from .drafting import Draft, DraftError, DraftRequest, draft
from .models import Agent, AgentJob, JobStatus

logger = logging.getLogger(__name__)

AGENT_FIELDS = (
    "name", "sender_name", "sender_title", "company_name", "company_description", "sign_with_mailbox_signature",
    "tone", "avoid", "autonomy", "auto_after_approved", "provider", "provider_settings", "fallbacks", "is_active",
)
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
# A queued job whose task message never arrived (broker restart) is picked up by the
# retry sweep after this long; a running job's lease is how long before it counts as lost.
FIRST_RUN_GRACE = timedelta(minutes=2)


# ---- configuration -----------------------------------------------------------------

def _audit(*, tenant, actor, agent, action, changes):
    AuditEntry.objects.create(
        tenant=tenant, actor=actor, object_type="agent", object_id=str(agent.pk),
        action=action, changes=changes,
    )


def _key_state(agent):
    return "stored" if agent.api_key_encrypted else "none"


def _apply_secret_changes(agent, secret_changes):
    """`{"api_key": plaintext}` stores a new key, `{"api_key": ""}` removes it. The audit
    trail only learns whether a key is stored."""
    before = _key_state(agent)
    if "api_key" in (secret_changes or {}):
        agent.api_key_encrypted = credentials.encrypt(secret_changes["api_key"])
        return {"api_key": [before, _key_state(agent)]}
    return {}


@transaction.atomic
def agent_create(*, tenant, actor, secret_changes=None, **fields):
    agent = Agent(tenant=tenant, **{k: fields[k] for k in AGENT_FIELDS if k in fields})
    key_change = _apply_secret_changes(agent, secret_changes)
    agent.save()
    changes = {k: _jsonable(getattr(agent, k)) for k in AGENT_FIELDS}
    changes.update(key_change)
    _audit(tenant=tenant, actor=actor, agent=agent, action="created", changes=changes)
    return agent


@transaction.atomic
def agent_update(*, tenant, agent, actor, secret_changes=None, **fields):
    agent = Agent.objects.select_for_update().get(pk=agent.pk, tenant=tenant)
    changes = {}
    for name in AGENT_FIELDS:
        if name in fields and fields[name] != getattr(agent, name):
            changes[name] = [_jsonable(getattr(agent, name)), _jsonable(fields[name])]
            setattr(agent, name, fields[name])
    changes.update(_apply_secret_changes(agent, secret_changes))
    if changes:
        agent.save()
        _audit(tenant=tenant, actor=actor, agent=agent, action="updated", changes=changes)
    return agent


def _jsonable(value):
    return value if isinstance(value, (str, int, float, bool, dict, list, type(None))) else str(value)


def apply_draft(*, message, result: Draft):
    message.subject = result.subject
    message.body_text = result.body_text
    message.body_html = result.body_html
    message.flags = list(result.flags)
    message.signed_by = result.signed_by


# ---- agent jobs ----------------------------------------------------------------------

def draft_request_for(*, enrollment, step, agent, tenant, channel=""):
    from .selectors import thread_for

    thread = thread_for(tenant=tenant, enrollment_id=enrollment.pk)
    return DraftRequest(
        agent=agent, tenant=tenant, contact=enrollment.contact, step=step,
        channel=channel or step.channel, thread=tuple(thread),
    )


def agent_job_start(*, tenant, enrollment, message, agent, at=None):
    """Create the drafting job for the enrollment's current step and pass, link it to the
    step's message and make the enrollment wait. The caller holds the enrollment lock."""
    at = at or timezone.now()
    job, _ = AgentJob.objects.get_or_create(
        enrollment=enrollment, step=enrollment.current_step, step_pass=enrollment.step_pass,
        defaults={"tenant": tenant, "agent": agent, "provider": agent.provider,
                  "next_attempt_at": at + FIRST_RUN_GRACE, "created_at": at},
    )
    if message.agent_job_id != job.pk:
        message.agent_job = job
        message.save(update_fields=["agent_job", "updated_at"])
    single.wait(enrollment, WaitingOn.AGENT, at=at)
    jobs.start("agents.run_agent_job", tenant.pk, job.pk)
    return job


def _lease(agent):
    settings = (agent.provider_settings or {}) if agent else {}
    timeout = float(settings.get("timeout_seconds") or 30)
    return timedelta(seconds=(timeout + 10) * (int(settings.get("max_retries") or 2) + 1) + 60)


def _claim(*, tenant_id, job_id, now):
    """Conditional UPDATE so that two workers never run the same job: a queued job, or a
    running one whose lease ran out (its worker died)."""
    job = AgentJob.objects.select_related("agent").filter(pk=job_id, tenant_id=tenant_id).first()
    if job is None:
        return None
    claimed = AgentJob.objects.filter(pk=job_id, tenant_id=tenant_id).filter(
        Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, next_attempt_at__lte=now)
    ).update(status=JobStatus.RUNNING, attempts=F("attempts") + 1,
             next_attempt_at=now + _lease(job.agent))
    return job if claimed else None


def agent_job_run(*, tenant_id, job_id, at=None):
    """Run one drafting job: call the provider outside any transaction, then record the
    outcome and route the draft. Returns the job's final status, or None if not claimed."""
    now = at or timezone.now()
    job = _claim(tenant_id=tenant_id, job_id=job_id, now=now)
    if job is None:
        return None
    job = AgentJob.objects.select_related(
        "agent", "step", "enrollment__contact", "enrollment__sequence__tenant", "enrollment__sequence__agent"
    ).get(pk=job_id, tenant_id=tenant_id)
    agent = job.agent or job.enrollment.sequence.agent
    tenant = job.enrollment.sequence.tenant
    started = time.perf_counter()
    try:
        if agent is None or job.step is None:
            raise DraftError("The job has no agent or step any more.")
        request = draft_request_for(enrollment=job.enrollment, step=job.step, agent=agent, tenant=tenant)
        result = draft(request)
    except DraftError as exc:
        return _job_failed(job_id=job_id, error=str(exc), transient=exc.transient,
                           retry_after=exc.retry_after, started=started, now=now)
    except Exception as exc:  # a bug must not loop forever: bounded like a transient error
        logger.exception("Agent job %s crashed", job_id)
        return _job_failed(job_id=job_id, error=f"Unexpected error: {exc!r}", transient=True,
                           retry_after=None, started=started, now=now)
    return _job_succeeded(job_id=job_id, enrollment_id=job.enrollment_id, tenant_id=tenant_id,
                          agent=agent, result=result, started=started, now=now)


def _elapsed_ms(started):
    return int((time.perf_counter() - started) * 1000)


def _backoff(attempts, retry_after):
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=max(delay, retry_after or 0))


@transaction.atomic
def _job_failed(*, job_id, error, transient, retry_after, started, now):
    job = AgentJob.objects.select_for_update().get(pk=job_id)
    if job.status != JobStatus.RUNNING:
        return job.status
    job.error = error[:2000]
    job.duration_ms = _elapsed_ms(started)
    if transient and job.attempts < job.max_attempts:
        job.status = JobStatus.QUEUED
        job.next_attempt_at = now + _backoff(job.attempts, retry_after)
    else:
        job.status = JobStatus.FAILED
        job.next_attempt_at = None
        job.finished_at = now
    job.save()
    return job.status


def _job_succeeded(*, job_id, enrollment_id, tenant_id, agent, result, started, now):
    from messaging.models import MessageState, OutboundMessage

    with transaction.atomic():
        # Enrollment before job: the same lock order as the processor and approvals.
        enrollment = store.locked(enrollment_id, tenant_id=tenant_id)
        job = AgentJob.objects.select_for_update().get(pk=job_id)
        if job.status != JobStatus.RUNNING:
            return job.status
        job.status = JobStatus.SUCCEEDED
        job.error = ""
        job.provider = result.provider
        job.prompt_tokens = result.prompt_tokens
        job.completion_tokens = result.completion_tokens
        job.duration_ms = _elapsed_ms(started)
        job.next_attempt_at = None
        job.finished_at = now
        message = OutboundMessage.objects.select_for_update().filter(agent_job=job).first()
        if message is None:
            job.status = JobStatus.FAILED
            job.error = "No message is linked to this job."
            job.save()
            return job.status
        job.save()
        if message.state != MessageState.DRAFT:
            return job.status  # cancelled while drafting (unsubscribe, reply …): nothing to send
        apply_draft(message=message, result=result)
        same_step = enrollment.current_step_id == job.step_id and enrollment.step_pass == job.step_pass
        if same_step and enrollment.status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED):
            sequence = enrollment.sequence
            reasons = review_reasons(agent=agent, step=job.step, draft=result, tenant=sequence.tenant,
                                     owner_role=role_of(tenant=sequence.tenant, user_id=sequence.owner_id))
            if enrollment.status == EnrollmentStatus.PAUSED:
                reasons = ["enrollment was paused while drafting"] + reasons
        else:
            message.state = MessageState.CANCELLED
            message.error = "The enrollment moved on while the draft was written."
            message.save()
            return job.status
        message.save()
        route_draft(message=message, enrollment=enrollment, reasons=reasons, at=now)
        return job.status


@transaction.atomic
def agent_job_retry(*, tenant, job, actor):
    """A failed job gets a fresh set of attempts, run now."""

    updated = AgentJob.objects.filter(pk=job.pk, tenant=tenant, status=JobStatus.FAILED).update(
        status=JobStatus.QUEUED, attempts=0, next_attempt_at=timezone.now() + FIRST_RUN_GRACE,
        finished_at=None,
    )
    if not updated:
        return False
    AuditEntry.objects.create(
        tenant=tenant, actor=actor, object_type="agent_job", object_id=str(job.pk), action="retried",
        changes={"error": job.error[:500]},
    )
    jobs.start("agents.run_agent_job", tenant.pk, job.pk)
    return True


def agent_jobs_due(*, now=None, limit=500):
    """Jobs whose retry time has come (or whose worker died); each is pushed out a bit so
    the next sweep does not send it again while it waits in the broker."""
    now = now or timezone.now()
    due = list(
        AgentJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING], next_attempt_at__lte=now)
        .order_by("next_attempt_at").values_list("tenant_id", "pk")[:limit]
    )
    AgentJob.objects.filter(pk__in=[pk for _, pk in due], status=JobStatus.QUEUED).update(
        next_attempt_at=now + FIRST_RUN_GRACE
    )
    return due
