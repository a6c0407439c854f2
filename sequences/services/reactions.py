"""What happens to outreach when a contact does something that must stop or pause it:
the reactions the sequences app registers for contact facts (contacts.facts), so the
apps that record a fact never call up into this one.

Set-based on purpose: a bulk "mark do-not-contact" over thousands of contacts must be
one transaction with a handful of statements, not a loop of saves.
"""
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from contacts.facts import reaction
from contacts.models import EventKind, LeadStatus
from messaging.models import UNSENT_STATES
from scendcore import jobs

from ..flow import context as flow_context
from ..flow import rules, store, transitions
from ..models import EnrollmentStatus, WaitingOn
from .goals import goals_on_custom_event, goals_on_fact

# Facts after which nobody may contact the person again, with the reason the
# enrollments exit with.
STOP_REASONS = {
    EventKind.UNSUBSCRIBED: "unsubscribed", EventKind.BOUNCED: "bounced", EventKind.COMPLAINED: "spam complaint",
    EventKind.DO_NOT_CONTACT: "do-not-contact", EventKind.SUPPRESSED: "suppressed",
}
ENDED_LEADS = (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)

PAUSE_REASONS = {"replied": "replied", "meeting_booked": "meeting booked"}

# Facts a wait-for-event node may wait for, and the event kinds each one can satisfy (a
# click tells of an open too: see engine.conditions.engagement).
WAKE_EVENTS = {
    EventKind.OPENED: ("opened",), EventKind.CLICKED: ("clicked", "opened"), EventKind.REPLIED: ("replied",),
    EventKind.MEETING_BOOKED: ("meeting_booked",), EventKind.FIELD_CHANGED: ("field_changed",),
    EventKind.TAG_ADDED: ("tag_added",), EventKind.CUSTOM: ("custom",),
}


def pending_work_cancel(*, tenant=None, enrollment_ids=None, contact_ids=None, reason, at, skip_tasks):
    """Cancel unsent messages and pending approvals of these enrollments or contacts;
    with `skip_tasks`, skip their open tasks too. Returns the number of messages cancelled.

    `tenant` scopes the statements. The processor leaves it out: its batch spans tenants
    and it passes only ids of enrollment rows it holds locked, so the ids are the scope.
    A reply or meeting pause keeps open tasks (`skip_tasks=False`): the enrollment may be
    waiting on one and goes on waiting on it once resumed."""
    from approvals.models import ApprovalRequest, ApprovalStatus
    from messaging.models import OutboundMessage, Task, TaskStatus

    if enrollment_ids is None and contact_ids is None:
        raise ValueError("pending_work_cancel needs enrollment_ids or contact_ids")
    if enrollment_ids is not None and not enrollment_ids:
        return 0
    messages = OutboundMessage.objects.filter(state__in=UNSENT_STATES)
    approvals = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING)
    tasks = Task.objects.filter(status=TaskStatus.OPEN)
    if tenant is not None:
        messages, approvals, tasks = (qs.filter(tenant=tenant) for qs in (messages, approvals, tasks))
    if enrollment_ids is not None:
        messages, approvals, tasks = (
            qs.filter(enrollment_id__in=enrollment_ids) for qs in (messages, approvals, tasks)
        )
    if contact_ids is not None:
        messages = messages.filter(contact_id__in=contact_ids)
        approvals = approvals.filter(message__contact_id__in=contact_ids)
        tasks = tasks.filter(contact_id__in=contact_ids)
    # Approvals first: their filter joins messages whose state we are about to change.
    approvals.update(status=ApprovalStatus.CANCELLED, blocked_reason=reason[:200], decided_at=at)
    cancelled = messages.update(state="cancelled", error=f"Cancelled: {reason}", updated_at=at)
    if skip_tasks:
        tasks.update(status=TaskStatus.SKIPPED, outcome_note=f"Skipped: {reason}", completed_at=at)
    return cancelled


@transaction.atomic
def outreach_stop(*, tenant, contact_ids, reason, actor=None, at=None):
    """Stop everything for these contacts across every sequence of the tenant: open
    enrollments exit with `reason`, unsent messages and pending approvals are
    cancelled, open tasks are skipped. Returns the number of enrollments ended."""
    at = at or timezone.now()
    contact_ids = list(contact_ids)
    rows = store.locked_many(tenant=tenant, status=transitions.OPEN, contact_id__in=contact_ids)
    activities = []
    for e in rows:
        activities += transitions.exit(e, reason, at=at, actor=actor)
    store.save_batch(rows, activities, at=at)
    pending_work_cancel(tenant=tenant, contact_ids=contact_ids, reason=reason, at=at, skip_tasks=True)
    return len(rows)


def _exit_rules(rows):
    """enrollment id -> its version's effective exit rules (one query for all rows)."""
    by_version = rules.exit_rules_by_version({rules.version_of(e) for e in rows})
    return {e.pk: rules.exit_rules_of(by_version.get(rules.version_of(e)), sequence=e.sequence) for e in rows}


@transaction.atomic
def contact_event_pause(*, tenant, contact_id, kind, at=None, actor=None, data=None):
    """A reply or a booked meeting, by each sequence's exit rules: pauses the contact's
    active enrollments (the default: sequences that stop on that event) and cancels their
    drafts not yet sent, or ends their open enrollments (a rule to exit, on any reply or
    only on a positive one). Returns the number paused."""
    at = at or timezone.now()
    data = data or {}
    # Enrollments begun by this very fact (a goal's move to another sequence) are not its to stop.
    rows = store.locked_many(tenant=tenant, status=transitions.OPEN, contact_id=contact_id, enrolled_at__lt=at)
    if not rows:
        return 0
    exit_rules = _exit_rules(rows)
    paused, ended, activities = [], defaultdict(list), []
    for e in rows:
        if _waits_for(e, kind):
            continue  # the flow waits for this very fact: its wait takes the "event" path
        rule = exit_rules[e.pk]
        action = rule.on_reply(data.get("intent", "")) if kind == "replied" else rule.on_meeting()
        if action == "exit":
            reason = PAUSE_REASONS[kind]
            if kind == "replied" and rule.reply == "exit_positive":
                reason = "positive reply"
            activities += transitions.leave(e, reason, at=at)
            ended[reason].append(e)
        elif action == "pause" and e.status == EnrollmentStatus.ACTIVE:
            # The draft they waited on is cancelled below: re-arm the step for a fresh pass,
            # due as soon as the enrollment is resumed. Otherwise a resumed enrollment would
            # wait forever for an approval that no longer exists.
            if e.waiting_on in (WaitingOn.APPROVAL, WaitingOn.AGENT):
                transitions.rearm(e, at=at)
            activities += transitions.pause(e, PAUSE_REASONS[kind], at=at, actor=actor)
            paused.append(e)
    changed = paused + [e for group in ended.values() for e in group]
    if not changed:
        return 0
    store.save_batch(changed, activities, at=at)
    if paused:
        pending_work_cancel(tenant=tenant, enrollment_ids=[e.pk for e in paused], reason=PAUSE_REASONS[kind], at=at,
                            skip_tasks=False)
    for reason, group in ended.items():
        pending_work_cancel(tenant=tenant, enrollment_ids=[e.pk for e in group], reason=reason, at=at,
                            skip_tasks=True)
    return len(paused)


@transaction.atomic
def ended_lead_stop(*, tenant, contact_ids, status, actor=None, at=None):
    """A lead became converted or disqualified: its open enrollments end, except in
    sequences whose exit rules turn that off. Returns the number ended."""
    at = at or timezone.now()
    contact_ids = list(contact_ids)
    rows = store.locked_many(tenant=tenant, status=transitions.OPEN, contact_id__in=contact_ids)
    exit_rules = _exit_rules(rows)
    ending = [e for e in rows if exit_rules[e.pk].ends_lead(status)]
    if len(ending) == len(rows):
        # Every sequence ends it: everything for these contacts stops, as it always has.
        return outreach_stop(tenant=tenant, contact_ids=contact_ids, reason=status, actor=actor, at=at)
    activities = []
    for e in ending:
        activities += transitions.exit(e, status, at=at, actor=actor)
    store.save_batch(ending, activities, at=at)
    pending_work_cancel(tenant=tenant, enrollment_ids=[e.pk for e in ending], reason=status, at=at, skip_tasks=True)
    return len(ending)


# ---------------------------------------------------------------- reactions to facts
# One reaction per kind of fact decides everything that fact does to outreach, in order:
# goals first (a goal reached ends the enrollment as a conversion, not as a pause), then
# the exit rules.

@reaction(*STOP_REASONS)
def _stop_outreach(*, tenant, contact_ids, kind, at, actor, data):
    outreach_stop(tenant=tenant, contact_ids=contact_ids, reason=STOP_REASONS[kind], actor=actor, at=at)


@reaction(EventKind.STATUS_CHANGED)
def _on_status_change(*, tenant, contact_ids, kind, at, actor, data):
    goals_on_fact(tenant=tenant, contact_ids=contact_ids, kind=kind, data=data, at=at, actor=actor)
    if data.get("to") in ENDED_LEADS:
        ended_lead_stop(tenant=tenant, contact_ids=contact_ids, status=data["to"], actor=actor, at=at)


@reaction(EventKind.MEETING_BOOKED)
def _on_meeting(*, tenant, contact_ids, kind, at, actor, data):
    goals_on_fact(tenant=tenant, contact_ids=contact_ids, kind=kind, data=data, at=at, actor=actor)
    for contact_id in contact_ids:
        contact_event_pause(tenant=tenant, contact_id=contact_id, kind=kind, at=at, actor=actor, data=data)


@reaction(EventKind.REPLIED)
def _on_reply(*, tenant, contact_ids, kind, at, actor, data):
    for contact_id in contact_ids:
        contact_event_pause(tenant=tenant, contact_id=contact_id, kind=kind, at=at, actor=actor, data=data)


@reaction(EventKind.CLICKED)
def _on_click(*, tenant, contact_ids, kind, at, actor, data):
    goals_on_fact(tenant=tenant, contact_ids=contact_ids, kind=kind, data=data, at=at, actor=actor)


@transaction.atomic
def event_waits_wake(*, tenant, contact_ids, kind, at=None):
    """The contacts' enrollments waiting at a wait-for-event node for a fact of `kind`
    are due now, and the processor is asked to run at once (after commit), so the wait
    moves without waiting for the next sweep. Whether the fact is the very one waited
    for (the right link, field or tag) the wait node decides when it runs; one that is
    not goes back to waiting for its timeout. Returns the number of enrollments woken."""
    at = at or timezone.now()
    rows = store.locked_many(
        tenant=tenant, status=[EnrollmentStatus.ACTIVE], contact_id__in=list(contact_ids),
        waiting_on=WaitingOn.EVENT, current_step__config__event__kind__in=list(WAKE_EVENTS[kind]),
    )
    if not rows:
        return 0
    activities = []
    for e in rows:
        activities += transitions.reschedule(
            e, at, at=at, detail=f"{EventKind(kind).label} recorded: the wait is checked now", data={"woken_by": kind})
    store.save_batch(rows, activities, at=at)
    jobs.start("sequences.sweep")
    return len(rows)


def _waits_for(e, kind):
    """Whether `e` waits at a wait-for-event node for a fact of `kind`."""
    config = getattr(e.current_step, "config", None) or {}
    event = config.get("event") if isinstance(config, dict) else None
    return (e.waiting_on == WaitingOn.EVENT and isinstance(event, dict)
            and event.get("kind") in WAKE_EVENTS.get(kind, ()))


@reaction(EventKind.CUSTOM)
def _on_custom_event(*, tenant, contact_ids, kind, at, actor, data):
    goals_on_custom_event(tenant=tenant, contact_ids=contact_ids, name=data.get("name", ""), at=at, actor=actor,
                          data=data)
    custom_event_context_write(tenant=tenant, contact_ids=contact_ids, name=data.get("name", ""),
                               values=data.get("data") or {}, at=at)


@transaction.atomic
def custom_event_context_write(*, tenant, contact_ids, name, values, at=None):
    """A custom event's values (text, numbers, true/false) go into the context of the
    contacts' open enrollments, for branches to read ("plan" = "pro"), with the event's
    name under "last_event". A value the context's bounds refuse is left out and the
    activity row says so. Runs before the waits are woken, so a branch right after a
    wait for this event reads it. Returns the number of enrollments written."""
    at = at or timezone.now()
    updates = {key: value for key, value in (values if isinstance(values, dict) else {}).items()
               if isinstance(value, (str, int, float, bool))}
    updates["last_event"] = name
    rows = store.locked_many(tenant=tenant, status=transitions.OPEN, contact_id__in=list(contact_ids))
    activities = []
    for e in rows:
        try:
            e.context = flow_context.merged(e.context, updates)
            detail = f"Context from the event “{name}”: " + ", ".join(sorted(updates))
        except flow_context.ContextRefused as refused:
            detail = f"Context not written from the event “{name}”: {refused}"
        activities += transitions.acted(e, detail[:300], at=at, data={"event": name})
    store.save_batch(rows, activities, at=at)
    return len(rows)


@reaction(*WAKE_EVENTS)
def _wake_event_waits(*, tenant, contact_ids, kind, at, actor, data):
    event_waits_wake(tenant=tenant, contact_ids=contact_ids, kind=kind, at=at)
