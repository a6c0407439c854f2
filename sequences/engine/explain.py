"""A plain answer to "when will the next step go, and what could hold it?" for one
enrollment, in the contact's local time. A selector: reads only, takes the tenant."""
from dataclasses import dataclass, field

from django.utils import timezone

from approvals.routing import review_reasons
from contacts.suppression import EXPLANATIONS, suppression_reason
from scendcore import gates as gate_registry
from scendcore.gates import Hold
from scendcore.tenancy import role_of
from scendcore.zones import when_text

from ..flow import rules
from ..flow.transitions import PARKED
from ..models import EnrollmentStatus, SequenceStatus, StepKind, WaitingOn
from ..scheduling import contact_zone
from .gates.wording import local as _local
from .holds import attempt_for, release_at


@dataclass
class Explanation:
    answer: str
    zone: str
    next_at: object = None  # UTC datetime, or None
    next_local: str = ""
    holds: list = field(default_factory=list)

    @property
    def active_holds(self):
        return [h for h in self.holds if h.active]


def enrollment_explain(*, tenant, enrollment, now=None):
    now = now or timezone.now()
    if enrollment.tenant_id != tenant.pk:
        raise ValueError("enrollment of another tenant")
    sequence, contact, step = enrollment.sequence, enrollment.contact, enrollment.current_step
    zone = contact_zone(contact, tenant)
    explanation = Explanation(answer="", zone=zone.key)
    status = enrollment.status
    if status == EnrollmentStatus.COMPLETED:
        explanation.answer = "Finished: every step has run."
        return explanation
    if status == EnrollmentStatus.UNENROLLED:
        explanation.answer = f"Unenrolled ({enrollment.exit_reason or 'no reason recorded'}): nothing more will go."
        return explanation
    if status == EnrollmentStatus.EXITED:
        explanation.answer = f"Exited ({enrollment.exit_reason or 'no reason recorded'}): nothing more will go."
        return explanation
    if status == EnrollmentStatus.FAILED:
        explanation.answer = f"Failed ({enrollment.exit_reason or 'no error recorded'}): nothing more will go."
        return explanation
    if status == EnrollmentStatus.PAUSED:
        explanation.answer = (f"Paused ({enrollment.pause_reason or 'no reason given'}): nothing goes until "
                              "someone resumes it.")
        return explanation
    _stoppers(explanation, enrollment, sequence, contact)
    if enrollment.waiting_on == WaitingOn.EVENT and step is not None:
        _event_wait(explanation, enrollment, zone, now)
    elif enrollment.waiting_on:
        _waiting(explanation, enrollment)
    elif enrollment.next_run_at is None or step is None:
        explanation.answer = "Nothing is scheduled."
    elif step.kind == StepKind.WAIT and enrollment.next_run_at > now:
        explanation.next_at = enrollment.next_run_at
        explanation.next_local = _local(enrollment.next_run_at, zone)
        explanation.answer = f"Waiting until {explanation.next_local}, when {_path_start(step, 'next')}."
    else:
        when = max(enrollment.next_run_at, now)
        explanation.next_at = enrollment.next_run_at
        explanation.next_local = _local(enrollment.next_run_at, zone)
        label = f"Step {step.order} ({step.get_channel_display()})"
        if enrollment.next_run_at <= now:
            explanation.answer = f"{label} is due now; the processor picks it up within a minute."
        else:
            explanation.answer = f"{label} goes {explanation.next_local}."
        if enrollment.lease_owner and enrollment.lease_owner != PARKED and enrollment.lease_expires_at \
                and enrollment.lease_expires_at > now:
            explanation.holds.append(Hold("lease", "A worker is executing this step right now.", True))
        if step.kind in (StepKind.MESSAGE, StepKind.TASK):
            _gates(explanation, enrollment, when, now)
        if step.kind == StepKind.MESSAGE:
            _review(explanation, sequence, step)
    return explanation


def _path_start(node, label):
    """"the path “Case study” starts" (the node `label` leads to), or "the flow ends"."""
    from ..flow.navigator import graph_of

    following = graph_of(node.version_id).follow(node, label)
    if following is None:
        return "the flow ends"
    name = following.title or following.key
    return f"the {label} path “{name}” starts" if label != "next" else f"“{name}” starts"


def _event_wait(explanation, enrollment, zone, now):
    """"Waiting for a reply, or until Thu 4 Dec, 09:00 their time (…) when the timeout
    path “Case study” starts"."""
    from contacts.models import Tag

    from .steps.wait import event_of, event_words

    node = enrollment.current_step
    event = event_of(node)
    tag_name = ""
    if event.get("kind") == "tag_added" and isinstance(event.get("tag"), int):
        tag_name = Tag.objects.filter(tenant_id=enrollment.tenant_id, pk=event["tag"]).values_list(
            "name", flat=True).first() or ""
    words = event_words(event, tag_name=tag_name)
    if enrollment.next_run_at is None:
        explanation.answer = f"Waiting for {words}."
        return
    explanation.next_at = enrollment.next_run_at
    explanation.next_local = _local(enrollment.next_run_at, zone)
    if enrollment.next_run_at <= now:
        explanation.answer = (f"Waiting for {words}: something it may be waiting for was recorded; the processor "
                              "checks the wait within a minute.")
        return
    explanation.answer = (f"Waiting for {words}, or until {explanation.next_local} when "
                          f"{_path_start(node, 'timeout')}.")


def _gates(explanation, enrollment, when, now):
    """What each registered gate says about the step at the moment it is due: the same
    gates, in the same order, that the processor asks (and the same release time). The
    gate that deferred the step to that moment is asked about now instead: at the
    moment it made the step due, it has just let go (a frequency cap's window is empty
    again), and the page would call it no hold at all."""
    attempt = attempt_for(enrollment)
    deferred_by = _deferred_by(enrollment)

    def release(held):
        return release_at(held, attempt, now=when)

    for gate in gate_registry.registered():
        if gate.applies(attempt):
            at = now if gate.name == deferred_by else when
            hold = gate.explain(attempt, now=at, release=release)
            if hold is not None:
                explanation.holds.append(hold)


def _deferred_by(enrollment):
    """The gate whose deferral set the enrollment's current due time, if one did."""
    from ..models import Activity, ActivityKind

    last = (Activity.objects.filter(tenant_id=enrollment.tenant_id, enrollment=enrollment)
            .order_by("-created_at", "-id").only("kind", "data").first())
    if last is None or last.kind != ActivityKind.DEFERRED or not enrollment.next_run_at:
        return None
    if last.data.get("next_run_at") != enrollment.next_run_at.isoformat():
        return None
    return last.data.get("gate")


def _stoppers(explanation, enrollment, sequence, contact):
    if sequence.status == SequenceStatus.PAUSED:
        explanation.holds.append(Hold("sequence", "The sequence is paused: nothing goes until it is resumed.", True))
    elif sequence.status == SequenceStatus.ARCHIVED:
        explanation.holds.append(Hold("sequence", "The sequence is archived: the next run unenrolls this contact.", True))
    elif sequence.status == SequenceStatus.DRAFT:
        explanation.holds.append(Hold("sequence", "The sequence is still a draft: it does not run yet.", True))
    suppressed = suppression_reason(contact)
    if suppressed:
        explanation.holds.append(Hold(
            "contact", f"The contact {EXPLANATIONS[suppressed]}: the next run exits the enrollment.", True))
    exit_rules = rules.exit_rules_of(
        rules.exit_rules_by_version([rules.version_of(enrollment)]).get(rules.version_of(enrollment)),
        sequence=sequence)
    if exit_rules.ends_lead(contact.lead_status):
        explanation.holds.append(Hold("contact", f"The lead is {contact.lead_status}: the next run exits the enrollment.", True))
    if contact.last_replied_at and contact.last_replied_at > enrollment.enrolled_at:
        action = exit_rules.on_reply("")
        if exit_rules.reply == "exit_positive":
            explanation.holds.append(Hold("contact", "The contact replied: a positive reply exits the enrollment"
                                          + ("; any other pauses it." if action == "pause" else "."), True))
        elif action:
            explanation.holds.append(Hold("contact", f"The contact replied: the next run {action}s the enrollment.", True))
    if contact.last_meeting_at and contact.last_meeting_at > enrollment.enrolled_at and exit_rules.on_meeting():
        explanation.holds.append(Hold(
            "contact", f"A meeting was booked: the next run {exit_rules.on_meeting()}s the enrollment.", True))


def _viewer(when):
    """A review or task moment: no send window applies, so it reads in the viewer's zone
    (the one the request activated), like every other time on the page."""
    return when_text(when, timezone.get_current_timezone())


def _waiting(explanation, enrollment):
    from agents.models import AgentJob
    from approvals.models import ApprovalRequest
    from messaging.models import Task

    if enrollment.waiting_on == WaitingOn.APPROVAL:
        approval = (ApprovalRequest.objects.filter(enrollment=enrollment, status="pending")
                    .order_by("-created_at").first())
        text = "The draft is waiting for approval"
        if approval:
            text += f" since {_viewer(approval.created_at)}"
            if approval.review_reasons:
                text += f" ({'; '.join(approval.review_reasons)})"
            if approval.expires_at:
                text += f"; it expires {_viewer(approval.expires_at)}"
        explanation.answer = "Waiting for approval: the step goes once a reviewer approves the draft."
        explanation.holds.append(Hold("approval", text + ".", True))
    elif enrollment.waiting_on == WaitingOn.TASK:
        task = Task.objects.filter(enrollment=enrollment, status="open").select_related("owner").first()
        owner = task.owner.get_full_name() or task.owner.username if task and task.owner else "its owner"
        explanation.answer = f"Waiting for {owner} to complete or skip the task; the next step follows it."
        if task:
            explanation.holds.append(Hold("task", f"Open task: “{task.title}”, due {_viewer(task.due_at)}.", True))
    elif enrollment.waiting_on == WaitingOn.AGENT:
        job = (AgentJob.objects.filter(enrollment=enrollment, step_id=enrollment.current_step_id,
                                       step_pass=enrollment.step_pass).first())
        if job and job.status == "failed":
            explanation.answer = "Stopped: the agent could not write the draft. Retry the job from the agent's page."
            explanation.holds.append(Hold("agent", f"The agent job failed: {job.error or 'no error recorded'}", True))
        else:
            explanation.answer = "The agent is writing the draft; it then goes to review or delivery."
            if job and job.attempts > 1:
                explanation.holds.append(Hold("agent", f"Drafting is being retried (attempt {job.attempts}).", True))
    else:
        explanation.answer = f"Waiting: {WaitingOn(enrollment.waiting_on).label}."


def _review(explanation, sequence, step):
    """The review rule the draft will meet (approvals.routing), before it is written."""
    reasons = review_reasons(agent=sequence.agent, step=step, draft=None, tenant=sequence.tenant,
                             owner_role=role_of(tenant=sequence.tenant, user_id=sequence.owner_id))
    if reasons:
        explanation.holds.append(Hold("approval", "The draft will wait for approval: " + "; ".join(reasons) + "."))
