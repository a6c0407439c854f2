"""A plain answer to "when will the next step go, and what could hold it?" for one
enrollment, in the contact's local time. A selector: reads only, takes the tenant."""
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from agents.policy import owner_review_reason
from contacts.suppression import EXPLANATIONS, suppression_reason
from scendcore.tenancy import role_of

from ..models import EnrollmentStatus, SequenceStatus, WaitingOn
from ..scheduling import contact_zone, defer_into_window, step_window
from .gates import CAPPED_STATES
from .sweep import PARKED

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Hold:
    kind: str  # window, cap, mailbox, approval, task, agent, sequence, contact, lease
    text: str
    active: bool = False  # holding it right now, rather than something that could


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


def _local(when, zone):
    return f"{when.astimezone(zone):%a %d %b %Y, %H:%M}"


def _days(days):
    days = sorted(days)
    if days and days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        return f"{DAY_NAMES[days[0]]}–{DAY_NAMES[days[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in days) or "no day"


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
    if status == EnrollmentStatus.PAUSED:
        explanation.answer = (f"Paused ({enrollment.pause_reason or 'no reason given'}): nothing goes until "
                              "someone resumes it.")
        return explanation
    _stoppers(explanation, enrollment, sequence, contact)
    if enrollment.waiting_on:
        _waiting(explanation, enrollment, zone)
    elif enrollment.next_run_at is None or step is None:
        explanation.answer = "Nothing is scheduled."
    else:
        when = max(enrollment.next_run_at, now)
        explanation.next_at = enrollment.next_run_at
        explanation.next_local = _local(enrollment.next_run_at, zone)
        label = f"Step {step.order} ({step.get_channel_display()})"
        if enrollment.next_run_at <= now:
            explanation.answer = f"{label} is due now; the processor picks it up within a minute."
        else:
            explanation.answer = f"{label} goes {explanation.next_local} ({zone.key}, the contact's time)."
        if enrollment.lease_owner and enrollment.lease_owner != PARKED and enrollment.lease_expires_at \
                and enrollment.lease_expires_at > now:
            explanation.holds.append(Hold("lease", "A worker is executing this step right now.", True))
        _window(explanation, step, contact, tenant, when, zone)
        if step.channel in ("email", "sms"):
            _cap(explanation, enrollment, tenant, when, zone)
            _review(explanation, sequence, step)
        if step.channel == "email":
            _mailbox(explanation, sequence, contact, when, zone)
    return explanation


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
    if contact.lead_status in ("converted", "disqualified"):
        explanation.holds.append(Hold("contact", f"The lead is {contact.lead_status}: the next run exits the enrollment.", True))
    if sequence.stop_on_reply and contact.last_replied_at and contact.last_replied_at > enrollment.enrolled_at:
        explanation.holds.append(Hold("contact", "The contact replied: the next run pauses the enrollment.", True))
    if sequence.stop_on_meeting and contact.last_meeting_at and contact.last_meeting_at > enrollment.enrolled_at:
        explanation.holds.append(Hold("contact", "A meeting was booked: the next run pauses the enrollment.", True))


def _waiting(explanation, enrollment, zone):
    from agents.models import AgentJob
    from approvals.models import ApprovalRequest
    from messaging.models import Task

    if enrollment.waiting_on == WaitingOn.APPROVAL:
        approval = (ApprovalRequest.objects.filter(enrollment=enrollment, status="pending")
                    .order_by("-created_at").first())
        text = "The draft is waiting for approval"
        if approval:
            text += f" since {_local(approval.created_at, zone)}"
            if approval.review_reasons:
                text += f" ({'; '.join(approval.review_reasons)})"
            if approval.expires_at:
                text += f"; it expires {_local(approval.expires_at, zone)}"
        explanation.answer = "Waiting for approval: the step goes once a reviewer approves the draft."
        explanation.holds.append(Hold("approval", text + ".", True))
    elif enrollment.waiting_on == WaitingOn.TASK:
        task = Task.objects.filter(enrollment=enrollment, status="open").select_related("owner").first()
        owner = task.owner.get_full_name() or task.owner.username if task and task.owner else "its owner"
        explanation.answer = f"Waiting for {owner} to complete or skip the task; the next step follows it."
        if task:
            explanation.holds.append(Hold("task", f"Open task: “{task.title}”, due {_local(task.due_at, zone)}.", True))
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


def _window(explanation, step, contact, tenant, when, zone):
    window = step_window(step, tenant)
    opens = defer_into_window(when=when, step=step, contact=contact, tenant=tenant)
    if window:
        days, start, end = window
        text = f"Send window: {_days(days)} {start:%H:%M}–{end:%H:%M} in the contact's time ({zone.key})"
        if step.business_days_only:
            text += ", business days only"
    elif step.business_days_only:
        text = "Business days only (no weekends in the contact's time)"
    else:
        return
    if opens > when:
        explanation.holds.append(Hold("window", f"{text}: it is outside the window then, so it waits until "
                                                f"{_local(opens, zone)}.", True))
    else:
        explanation.holds.append(Hold("window", text + "."))


def _cap(explanation, enrollment, tenant, when, zone):
    from messaging.models import OutboundMessage

    cap, hours = tenant.frequency_cap_messages, tenant.frequency_cap_hours
    if not cap or not hours:
        return
    window = timedelta(hours=hours)
    times = sorted(
        OutboundMessage.objects.filter(
            tenant=tenant, contact_id=enrollment.contact_id, state__in=CAPPED_STATES,
            created_at__gt=when - window, created_at__lte=when,
        ).values_list("created_at", flat=True)
    )
    text = f"Frequency cap: at most {cap} message{'s' if cap != 1 else ''} per {hours} h to this contact across all sequences"
    if len(times) >= cap:
        until = times[len(times) - cap] + window
        explanation.holds.append(Hold("cap", f"{text}; the cap is reached, so it waits until {_local(until, zone)}.", True))
    else:
        explanation.holds.append(Hold("cap", f"{text} ({len(times)} in the window now)."))


def _review(explanation, sequence, step):
    agent = sequence.agent
    reasons = []
    if step.requires_human_approval:
        reasons.append("the step requires approval")
    if agent is None or not agent.is_active:
        reasons.append("the sequence has no active agent")
    elif agent.autonomy == "review_all":
        reasons.append(f"{agent.name} has every draft reviewed")
    elif agent.autonomy == "auto_after_n" and agent.approved_drafts < agent.auto_after_approved:
        reasons.append(f"{agent.name} has {agent.approved_drafts} of {agent.auto_after_approved} approvals needed "
                       "to send on its own")
    policy = owner_review_reason(tenant=sequence.tenant, agent=agent,
                                 owner_role=role_of(tenant=sequence.tenant, user_id=sequence.owner_id))
    if policy:
        reasons.append(policy)
    if reasons:
        explanation.holds.append(Hold("approval", "The draft will wait for approval: " + "; ".join(reasons) + "."))


def _mailbox(explanation, sequence, contact, when, zone):
    from messaging.services.limits import daily_cap, mailbox_next_slot, recipient_domain

    if sequence.mailbox_pool_id:
        explanation.holds.append(Hold("mailbox", "Sent from the sequence's mailbox pool; a full pool defers it."))
        return
    mailbox = sequence.sender_profile
    if mailbox is None:
        explanation.holds.append(Hold("mailbox", "The sequence has no sender mailbox: delivery cannot send it.", True))
        return
    if mailbox.status != "active":
        why = f" by the circuit breaker: {mailbox.pause_reason}" if mailbox.pause_reason else ""
        explanation.holds.append(Hold("mailbox", f"Mailbox {mailbox.from_email} is paused{why}; nothing is sent "
                                                 "from it until an admin resumes it.", True))
        return
    slot = mailbox_next_slot(mailbox=mailbox, recipient_domain=recipient_domain(contact.email), at=when)
    limits = f"{daily_cap(mailbox, at=when)} a day (today), {mailbox.hourly_cap} an hour"
    if slot is not None and slot > when:
        explanation.holds.append(Hold("mailbox", f"Mailbox {mailbox.from_email} is at its sending limit ({limits}); "
                                                 f"it waits until {_local(slot, zone)}.", True))
    else:
        explanation.holds.append(Hold("mailbox", f"Mailbox {mailbox.from_email}: up to {limits}."))
