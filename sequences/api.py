"""JSON API for sequences (the endpoints of the email-sequence spec): list, create, read,
update settings, enroll, analytics, pause and resume. Each operation checks access first
and reads its body after, so another tenant's sequence is a 404 whatever was sent."""
from typing import Optional

from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Lower
from ninja import Query, Router, Schema, Status
from pydantic import StrictBool

from contacts.models import ContactList
from contacts.selectors import visible_contacts
from contacts.visibility import contact_scope
from messaging.models import LEFT_STATES, OutboundMessage
from scendcore.api.inputs import (
    Body, Choice, Count as CountOf, ObjectId, PageLimit, PageOffset, Text, body_doc, read_body,
)
from scendcore.api.pagination import page

from . import selectors
from .access import get_sequence_for_user
from .models import ReenrollPolicy, RejectionPolicy, Sequence, SequenceStatus
from .services import enrollments as enrollment_services
from .services import sequences as sequence_services

MAX_ENROLL_IDS = 10_000
NAME_LENGTH = Sequence._meta.get_field("name").max_length
DESCRIPTION_LENGTH = 10_000
RELATED_SETTINGS = {"agent_id": "agent", "sender_profile_id": "sender_profile", "mailbox_pool_id": "mailbox_pool"}

router = Router(tags=["sequences"])

# The API's words for enrollments_bulk_create's skip_active_elsewhere (None: the sequence decides).
ACTIVE_ELSEWHERE = {"skip": True, "keep": False}


class Errors(Schema):
    errors: dict[str, list[str]]


class StepOut(Schema):
    id: int
    order: int
    kind: str
    job_type: str
    channel: str
    delay_value: int
    delay_unit: str
    business_days_only: bool
    jitter_minutes: int
    window_days: Optional[list[int]]
    window_start: Optional[str]
    window_end: Optional[str]
    angle: str
    cta: str
    value_proposition: str
    subject_template: str
    body_template: str
    requires_human_approval: bool


class SequenceOut(Schema):
    id: int
    name: str
    description: str
    status: str
    version: int
    stop_on_reply: bool
    stop_on_meeting: bool
    is_default: bool
    test_mode: bool
    agent_id: Optional[int]
    sender_profile_id: Optional[int]
    mailbox_pool_id: Optional[int]
    reenroll_policy: str
    reenroll_after_days: int
    rejection_policy: str
    approval_expiry_hours: Optional[int]
    updated_at: str
    enrollments: Optional[dict[str, int]] = None
    steps: Optional[list[StepOut]] = None


class SequencePage(Schema):
    sequences: list[SequenceOut]
    count: int
    limit: int
    offset: int
    next: Optional[str]
    previous: Optional[str]


class SequenceCreate(Body):
    name: Optional[Text(NAME_LENGTH)] = None
    description: Optional[Text(DESCRIPTION_LENGTH)] = None
    template: Optional[Text(64)] = None


class SequencePatch(Body):
    # A default of None is not validated, so an explicit null is an error where a field
    # cannot be empty; fields left out stay as they are.
    name: Text(NAME_LENGTH) = None
    description: Optional[Text(DESCRIPTION_LENGTH)] = None
    stop_on_reply: StrictBool = None
    stop_on_meeting: StrictBool = None
    is_default: StrictBool = None
    test_mode: StrictBool = None  # every email to the rep's own address (README: trying a sequence out)
    reenroll_policy: Choice(ReenrollPolicy.values) = None
    reenroll_after_days: CountOf(Sequence, "reenroll_after_days") = None
    rejection_policy: Choice(RejectionPolicy.values) = None
    approval_expiry_hours: Optional[CountOf(Sequence, "approval_expiry_hours")] = None
    agent_id: Optional[ObjectId] = None
    sender_profile_id: Optional[ObjectId] = None
    mailbox_pool_id: Optional[ObjectId] = None


class EnrollBody(Body):
    contact_ids: Optional[list[ObjectId]] = None
    emails: Optional[list[Text(254)]] = None
    list_id: Optional[ObjectId] = None
    # Contacts active in another sequence: "skip", "keep", or left out for the sequence's
    # default (skip when it is a first touch), as the bulk bar offers.
    active_elsewhere: Choice(tuple(ACTIVE_ELSEWHERE)) = None


class EnrollResult(Schema):
    enrolled: int
    already_enrolled: int
    skipped: dict[str, int]
    summary: str


class StepStats(Schema):
    step_id: int
    order: int
    channel: str
    sent: int
    pending_approval: int
    bounced: int
    opened: int
    clicked: int
    replied: int
    reply_rate: Optional[float]


class GoalFigures(Schema):
    key: str
    name: str
    reached: int
    conversion_rate: Optional[float]


class GoalStats(Schema):
    enrolled: int
    reached: int
    conversion_rate: Optional[float]
    by_goal: list[GoalFigures]


class Analytics(Schema):
    sequence_id: int
    enrollments: dict[str, int]
    goals: GoalStats
    steps: list[StepStats]


def _step_json(step):
    return {
        "id": step.pk, "order": step.order, "kind": step.kind, "job_type": step.job_type,
        "channel": step.channel, "delay_value": step.delay_value, "delay_unit": step.delay_unit,
        "business_days_only": step.business_days_only, "jitter_minutes": step.jitter_minutes,
        "window_days": step.window_days,
        "window_start": step.window_start.isoformat() if step.window_start else None,
        "window_end": step.window_end.isoformat() if step.window_end else None,
        "angle": step.angle, "cta": step.cta, "value_proposition": step.value_proposition,
        "subject_template": step.subject_template, "body_template": step.body_template,
        "requires_human_approval": step.requires_human_approval,
    }


def _sequence_json(sequence, *, stats=None, steps=None):
    data = {
        "id": sequence.pk, "name": sequence.name, "description": sequence.description,
        "status": sequence.status, "version": sequence.version,
        "stop_on_reply": sequence.stop_on_reply, "stop_on_meeting": sequence.stop_on_meeting,
        "is_default": sequence.is_default, "test_mode": sequence.test_mode, "agent_id": sequence.agent_id,
        "sender_profile_id": sequence.sender_profile_id, "mailbox_pool_id": sequence.mailbox_pool_id,
        "reenroll_policy": sequence.reenroll_policy, "reenroll_after_days": sequence.reenroll_after_days,
        "rejection_policy": sequence.rejection_policy,
        "approval_expiry_hours": sequence.approval_expiry_hours,
        "updated_at": sequence.updated_at.isoformat(),
    }
    if stats is not None:
        data["enrollments"] = stats
    if steps is not None:
        data["steps"] = [_step_json(s) for s in steps]
    return data


SEQUENCE = {200: SequenceOut, 404: Errors, 422: Errors}


@router.get("/sequences/", url_name="sequences", response={200: SequencePage, 422: Errors}, exclude_unset=True)
def sequence_list(request, status: Choice(("",) + tuple(SequenceStatus.values)) = Query(""),
                  q: Text(200) = Query(""), limit: PageLimit = Query(100), offset: PageOffset = Query(0)):
    """The workspace's sequences with their enrollment counts, a page at a time."""
    sequences, meta = page(request, selectors.sequence_list(tenant=request.tenant, status=status, q=q),
                           limit=limit, offset=offset)
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[s.pk for s in sequences])
    return {"sequences": [_sequence_json(s, stats=stats[s.pk]) for s in sequences], **meta}


@router.post("/sequences/", url_name="sequences", response={201: SequenceOut, 422: Errors}, exclude_unset=True,
             openapi_extra=body_doc(SequenceCreate))
def sequence_create(request):
    """Create a sequence: `{"name"}`, or `{"template": "cold_outreach"}` with its steps."""
    data = read_body(request, SequenceCreate)
    if data.template:
        sequence = sequence_services.sequence_create_from_template(
            tenant=request.tenant, key=data.template, actor=request.user, name=data.name)
    else:
        sequence = sequence_services.sequence_create(
            tenant=request.tenant, actor=request.user, name=data.name or "", description=data.description or "")
    return Status(201, _sequence_json(sequence, steps=sequence.current_nodes().order_by("order")))


@router.get("/sequences/{int:sequence_id}/", url_name="sequence", response=SEQUENCE, exclude_unset=True)
def sequence_get(request, sequence_id: int):
    """The sequence with its steps and enrollment counts."""
    return _sequence_detail(request, get_sequence_for_user(request, sequence_id))


@router.patch("/sequences/{int:sequence_id}/", url_name="sequence", response=SEQUENCE, exclude_unset=True,
              openapi_extra=body_doc(SequencePatch))
def sequence_update(request, sequence_id: int):
    """Change settings; every bad field is reported by name."""
    sequence = get_sequence_for_user(request, sequence_id)
    values = _settings_from(read_body(request, SequencePatch), tenant=request.tenant)
    sequence = sequence_services.sequence_update_settings(
        tenant=request.tenant, sequence=sequence, actor=request.user, values=values)
    return _sequence_detail(request, sequence)


def _sequence_detail(request, sequence):
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[sequence.pk])[sequence.pk]
    return _sequence_json(sequence, stats=stats, steps=sequence.current_nodes().order_by("order"))


def _settings_from(patch, *, tenant):
    """The given settings with related ids turned into this tenant's objects; the service
    checks the rules."""
    from agents.models import Agent
    from messaging.models import Mailbox, MailboxPool

    models = {"agent": Agent, "sender_profile": Mailbox, "mailbox_pool": MailboxPool}
    values, errors = patch.model_dump(exclude_unset=True), {}
    if "description" in values:
        values["description"] = values["description"] or ""
    for key, name in RELATED_SETTINGS.items():
        if key not in values:
            continue
        pk = values.pop(key)
        obj = None if pk is None else models[name].objects.filter(tenant=tenant, pk=pk).first()
        if pk is not None and obj is None:
            errors[key] = ["No such object in this workspace."]
        values[name] = obj
    if errors:
        raise ValidationError(errors)
    return values


@router.post("/sequences/{int:sequence_id}/enroll/", url_name="sequence-enroll",
             response={200: EnrollResult, 404: Errors, 422: Errors}, openapi_extra=body_doc(EnrollBody))
def sequence_enroll(request, sequence_id: int):
    """Enroll `{"contact_ids": [...]}`, `{"emails": [...]}` or `{"list_id": n}`; counts by reason."""
    sequence = get_sequence_for_user(request, sequence_id)
    body = read_body(request, EnrollBody)
    contact_ids = _contacts_to_enroll(body, tenant=request.tenant, membership=request.membership)
    result = enrollment_services.enrollments_bulk_create(
        tenant=request.tenant, sequence=sequence, contact_ids=contact_ids, actor=request.user, via="api",
        skip_active_elsewhere=ACTIVE_ELSEWHERE.get(body.active_elsewhere))
    return {
        "enrolled": result.enrolled, "already_enrolled": result.already_enrolled,
        "skipped": {key: n for key, n in result.skipped.items() if n},
        "summary": result.summary(),
    }


def _contacts_to_enroll(body, *, tenant, membership):
    """Contact ids from `contact_ids`, `emails` or `list_id`, always scoped to the contacts
    the member may see (a colleague's contact is "not found" like another tenant's)."""
    given = [key for key in ("contact_ids", "emails", "list_id") if key in body.model_fields_set]
    if len(given) != 1:
        raise ValidationError({"contact_ids": ["Send exactly one of contact_ids, emails or list_id."]})
    key = given[0]
    if key == "list_id":
        contact_list = ContactList.objects.filter(tenant=tenant, pk=body.list_id).first() if body.list_id else None
        if contact_list is None:
            raise ValidationError({"list_id": ["No such list in this workspace."]})
        return list(contact_list.contacts.filter(contact_scope(membership)).values_list("pk", flat=True))
    values = getattr(body, key)
    if not values or len(values) > MAX_ENROLL_IDS:
        raise ValidationError({key: [f"Must be a non-empty list of at most {MAX_ENROLL_IDS} items."]})
    contacts = visible_contacts(tenant=tenant, membership=membership)
    if key == "contact_ids":
        found = set(contacts.filter(pk__in=values).values_list("pk", flat=True))
        missing = [v for v in values if v not in found]
    else:
        wanted = {v.strip().lower(): v for v in values}
        rows = contacts.annotate(email_lower=Lower("email")).filter(email_lower__in=list(wanted))
        by_email = dict(rows.values_list("email_lower", "pk"))
        found = set(by_email.values())
        missing = [v for low, v in wanted.items() if low not in by_email]
    if missing:
        raise ValidationError({key: [f"Not found in this workspace: {', '.join(map(str, missing[:20]))}"]})
    return list(found)


@router.get("/sequences/{int:sequence_id}/analytics/", url_name="sequence-analytics",
            response={200: Analytics, 404: Errors})
def sequence_analytics(request, sequence_id: int):
    """Enrollments by status; goals reached and conversion rates (reached / enrolled);
    sent, opened, clicked, replied per step."""
    sequence = get_sequence_for_user(request, sequence_id)
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[sequence.pk])[sequence.pk]
    sent_states = LEFT_STATES
    per_step = {
        row["step_id"]: row for row in
        OutboundMessage.objects.filter(tenant=request.tenant, enrollment__sequence=sequence)
        .values("step_id").order_by()
        .annotate(
            sent=Count("pk", filter=Q(state__in=sent_states)),
            pending_approval=Count("pk", filter=Q(state="pending_approval")),
            bounced=Count("pk", filter=Q(state="bounced")),
            opened=Count("pk", filter=Q(events__kind="opened"), distinct=True),
            clicked=Count("pk", filter=Q(events__kind="clicked"), distinct=True),
            replied=Count("pk", filter=Q(inbound__classification="reply"), distinct=True),
        )
    }
    steps = []
    for step in sequence.current_nodes().order_by("order"):
        row = per_step.get(step.pk, {})
        sent = row.get("sent", 0)
        steps.append({
            "step_id": step.pk, "order": step.order, "channel": step.channel,
            **{k: row.get(k, 0) for k in ("sent", "pending_approval", "bounced", "opened", "clicked", "replied")},
            "reply_rate": round(row.get("replied", 0) / sent, 4) if sent else None,
        })
    goals = selectors.goal_stats(tenant=request.tenant, sequence_ids=[sequence.pk])[sequence.pk]
    return {"sequence_id": sequence.pk, "enrollments": stats, "goals": goals, "steps": steps}


@router.post("/sequences/{int:sequence_id}/pause/", url_name="sequence-pause", response=SEQUENCE, exclude_unset=True)
def sequence_pause(request, sequence_id: int):
    """Pause the whole sequence."""
    sequence = get_sequence_for_user(request, sequence_id)
    return _sequence_json(sequence_services.sequence_pause(tenant=request.tenant, sequence=sequence, actor=request.user))


@router.post("/sequences/{int:sequence_id}/resume/", url_name="sequence-resume", response=SEQUENCE, exclude_unset=True)
def sequence_resume(request, sequence_id: int):
    """Resume a paused sequence."""
    sequence = get_sequence_for_user(request, sequence_id)
    return _sequence_json(sequence_services.sequence_resume(tenant=request.tenant, sequence=sequence, actor=request.user))
