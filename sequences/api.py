"""JSON API for sequences (the endpoints of the email-sequence spec): list, create, read,
update settings, enroll, analytics, pause and resume; a sequence's flow as a definition
document: created whole, read by version, saved as a draft, published, its versions
listed. Each operation checks access first and reads its body after, so another tenant's
sequence is a 404 whatever was sent."""
from typing import Annotated, Optional

import pydantic
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Lower
from ninja import Query, Router, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import Field, StrictBool

from contacts.models import ContactList
from contacts.selectors import visible_contacts
from contacts.visibility import contact_scope
from messaging.models import LEFT_STATES, OutboundMessage
from scendcore.api.inputs import (
    MAX_BODY_BYTES, Body, Choice, Count as CountOf, ObjectId, PageLimit, PageOffset, Text, body_doc, read_body,
)
from scendcore.api.pagination import page
from scendcore.request_body import json_object

from . import selectors
from .access import get_sequence_for_user
from .definition_schema import DefinitionOut, Flow
from .flow.definition import KEY_PATTERN
from .flow.pacing import pacing_warnings
from .models import ReenrollPolicy, RejectionPolicy, Sequence, SequenceStatus
from .services import definitions as definition_services
from .services import enrollments as enrollment_services
from .services import sequences as sequence_services
from .services import versions as version_services

MAX_ENROLL_IDS = 10_000
VersionNumber = Annotated[int, Field(ge=1, le=2**31 - 1)]  # from the query string: text, so not strict
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
    definition: Optional[DefinitionOut] = None
    # Seed 002's pacing defaults this sequence goes beyond (advice, never a refusal).
    warnings: Optional[list[str]] = None


class SequencePage(Schema):
    sequences: list[SequenceOut]
    count: int
    limit: int
    offset: int
    next: Optional[str]
    previous: Optional[str]


class SequenceSettings(Body):
    # A default of None is not validated, so an explicit null is an error where a field
    # cannot be empty; fields left out stay as they are.
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


class SequencePatch(SequenceSettings):
    name: Text(NAME_LENGTH) = None
    description: Optional[Text(DESCRIPTION_LENGTH)] = None


class Definition(Flow):
    """A whole definition: the sequence's name, description and settings with its flow."""

    name: Optional[Text(NAME_LENGTH)] = None
    description: Optional[Text(DESCRIPTION_LENGTH)] = None
    settings: Optional[SequenceSettings] = None


class SequenceCreate(Definition):
    """`{"name"}`; `{"template": key}`; a whole definition, either under `definition` or
    as the body's own fields (`nodes`, `goals`, `exit_rules`, `settings`)."""

    template: Optional[Text(64)] = None
    definition: Optional[Definition] = None


class Published(Schema):
    sequence_id: int
    version: int
    moved: int
    # Contacts still on an earlier version (they stayed, or were in the middle of a step).
    stayed: int
    definition: DefinitionOut


class Publish(Body):
    """`move`: what happens to contacts in flight: "stay" on their version (the default)
    or "map" them to the new one, a removed node by `node_map` ({old key: new key}; a
    kept key maps to itself)."""

    move: Choice(("stay", "map")) = None
    node_map: Optional[Annotated[dict[Text(64), Text(64)], Field(max_length=500)]] = None


class DefinitionSaved(Schema):
    sequence_id: int
    version: int
    state: str
    # What a publish would refuse, by node and field; {} when it may be published.
    problems: dict[str, list[str]]
    definition: DefinitionOut


class VersionOut(Schema):
    number: int
    state: str
    current: bool
    created_at: str
    published_at: Optional[str]
    note: str
    nodes: int
    open_enrollments: int


class Versions(Schema):
    sequence_id: int
    versions: list[VersionOut]


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


def _sequence_json(sequence, *, stats=None, steps=None, definition=None, warnings=None):
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
    if definition is not None:
        data["definition"] = definition
    if warnings is not None:
        data["warnings"] = warnings
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
    """Create a sequence: `{"name"}`; `{"template": "cold_outreach"}` with its steps; or a
    whole definition (`{"name", "definition": {"nodes": [...], ...}}`, or the definition's
    fields in the body itself), whose flow becomes version 1. A definition with any problem
    creates nothing: the errors name the node and field (`nodes.<key>.<field>`)."""
    data, raw = _read_definition_body(request, SequenceCreate)
    definition = _definition_of(data, raw)
    if data.template:
        if definition is not None:
            raise ValidationError({"template": ["Send a template or a definition, not both."]})
        sequence = sequence_services.sequence_create_from_template(
            tenant=request.tenant, key=data.template, actor=request.user, name=data.name)
    elif definition is not None:
        body, fields = definition
        sequence = definition_services.definition_create(
            tenant=request.tenant, actor=request.user, name=body.name or "", description=body.description or "",
            settings=_definition_settings(body, tenant=request.tenant), document=fields)
    else:
        sequence = sequence_services.sequence_create(
            tenant=request.tenant, actor=request.user, name=data.name or "", description=data.description or "")
    return Status(201, _sequence_json(sequence, steps=sequence.current_nodes().order_by("order"),
                                      definition=selectors.version_definition(tenant=request.tenant,
                                                                              sequence=sequence)))


DOCUMENT_FIELDS = ("nodes", "goals", "exit_rules", "settings")


def _definition_of(data, raw):
    """(the definition's schema, its raw fields) when the body carries one, else None."""
    given = [name for name in DOCUMENT_FIELDS if name in data.model_fields_set]
    if data.definition is not None:
        if given:
            raise ValidationError({given[0]: ["Send the definition under “definition” or in the body, not both."]})
        nested = data.definition
        for name in ("name", "description"):
            if name in data.model_fields_set:
                setattr(nested, name, getattr(data, name))
        return nested, raw["definition"]
    if given:
        return data, raw
    return None


def _definition_settings(body, *, tenant):
    """A definition's sequence settings as the services take them (related objects this
    tenant's), errors keyed "settings.<field>"."""
    if body.settings is None:
        return {}
    try:
        return _settings_from(body.settings, tenant=tenant)
    except ValidationError as error:
        raise ValidationError({f"settings.{k}": v for k, v in error.message_dict.items()}) from None


def _read_definition_body(request, schema):
    """The body validated by `schema`, like read_body, with errors inside a node keyed by
    the node's key ("nodes.intro.delay_value") and others by their dotted path
    ("settings.agent_id"). Returns (the schema's instance, the JSON as sent: the document
    the services read)."""
    data = json_object(request, limit=MAX_BODY_BYTES, allow_empty=True)
    try:
        body = schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise NinjaValidationError([{**e, "loc": ("body", *_error_place(e["loc"], data))}
                                    for e in exc.errors(include_url=False)]) from None
    return body, data


def _error_place(loc, data):
    loc = list(loc)
    if loc[:1] == ["definition"] and len(loc) > 1:
        data, loc = data.get("definition"), loc[1:]
    if len(loc) >= 3 and loc[0] == "nodes" and isinstance(loc[1], int):
        node = data["nodes"][loc[1]] if isinstance(data, dict) and isinstance(data.get("nodes"), list) else None
        key = node.get("key") if isinstance(node, dict) else None
        if isinstance(key, str) and KEY_PATTERN.match(key):
            rest = loc[2:]
            if rest[0] == "settings" and len(rest) > 1:
                rest = rest[1:]
            return (f"nodes.{key}.{rest[0]}", *rest[1:])
    names = []
    while loc and isinstance(loc[0], str):
        names.append(loc.pop(0))
    return (".".join(names) or "__all__", *loc)


@router.get("/sequences/{int:sequence_id}/", url_name="sequence", response=SEQUENCE, exclude_unset=True)
def sequence_get(request, sequence_id: int, version: Optional[VersionNumber] = Query(None)):
    """The sequence with its steps and enrollment counts, and the graph (`definition`) of
    its published version, or of version `?version=N` (any, drafts and retired ones too)."""
    sequence = get_sequence_for_user(request, sequence_id)
    definition = selectors.version_definition(tenant=request.tenant, sequence=sequence, number=version)
    if definition is None:
        return Status(404, {"errors": {"version": [f"This sequence has no version {version}."]}})
    return _sequence_detail(request, sequence, definition=definition)


@router.put("/sequences/{int:sequence_id}/definition/", url_name="sequence-definition",
            response={200: DefinitionSaved, 404: Errors, 422: Errors}, openapi_extra=body_doc(Definition))
def sequence_definition_save(request, sequence_id: int):
    """Save a whole definition into the version being edited: a draft once contacts are on
    the published version (its `problems` are what a publish would refuse), else the
    published version itself (refused with 422 when it has problems)."""
    sequence = get_sequence_for_user(request, sequence_id)
    body, raw = _read_definition_body(request, Definition)
    settings = _definition_settings(body, tenant=request.tenant)
    for name in ("name", "description"):
        if name in body.model_fields_set:
            settings[name] = getattr(body, name) or ""
    version, problems = definition_services.definition_update(
        tenant=request.tenant, sequence=sequence, actor=request.user, document=raw, settings=settings)
    return {"sequence_id": sequence.pk, "version": version.number, "state": version.state, "problems": problems,
            "definition": selectors.version_definition(tenant=request.tenant, sequence=sequence,
                                                       number=version.number)}


@router.post("/sequences/{int:sequence_id}/publish/", url_name="sequence-publish",
             response={200: Published, 404: Errors, 422: Errors}, openapi_extra=body_doc(Publish))
def sequence_publish(request, sequence_id: int):
    """Publish the draft: refused with every problem on its node (422). Contacts in flight
    stay on their version, or with `{"move": "map", "node_map": {...}}` move to the new
    one; a removed node that holds contacts must be mapped."""
    sequence = get_sequence_for_user(request, sequence_id)
    body = read_body(request, Publish)
    version, moved = version_services.version_publish(
        tenant=request.tenant, sequence=sequence, actor=request.user, move=body.move or "stay",
        node_map=body.node_map)
    stayed = selectors.open_enrollments_elsewhere(tenant=request.tenant, sequence=sequence, version=version)
    return {"sequence_id": sequence.pk, "version": version.number, "moved": moved, "stayed": stayed,
            "definition": selectors.version_definition(tenant=request.tenant, sequence=sequence,
                                                       number=version.number)}


@router.get("/sequences/{int:sequence_id}/versions/", url_name="sequence-versions",
            response={200: Versions, 404: Errors})
def sequence_versions(request, sequence_id: int):
    """Every version, newest first: its state, node count and contacts still on it."""
    sequence = get_sequence_for_user(request, sequence_id)
    return {"sequence_id": sequence.pk, "versions": selectors.versions_list(tenant=request.tenant, sequence=sequence)}


@router.patch("/sequences/{int:sequence_id}/", url_name="sequence", response=SEQUENCE, exclude_unset=True,
              openapi_extra=body_doc(SequencePatch))
def sequence_update(request, sequence_id: int):
    """Change settings; every bad field is reported by name."""
    sequence = get_sequence_for_user(request, sequence_id)
    values = _settings_from(read_body(request, SequencePatch), tenant=request.tenant)
    sequence = sequence_services.sequence_update_settings(
        tenant=request.tenant, sequence=sequence, actor=request.user, values=values)
    return _sequence_detail(request, sequence)


def _sequence_detail(request, sequence, *, definition=None):
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[sequence.pk])[sequence.pk]
    nodes = list(sequence.current_nodes().order_by("order"))
    definition = definition or selectors.version_definition(tenant=request.tenant, sequence=sequence)
    return _sequence_json(sequence, stats=stats, steps=nodes, definition=definition,
                          warnings=pacing_warnings(nodes))


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


@router.post("/sequences/{int:sequence_id}/activate/", url_name="sequence-activate", response=SEQUENCE,
             exclude_unset=True)
def sequence_activate(request, sequence_id: int):
    """Activate a draft once nothing stands in the way (422 lists what does); `warnings`
    names what goes beyond the pacing defaults."""
    sequence = get_sequence_for_user(request, sequence_id)
    sequence = sequence_services.sequence_activate(tenant=request.tenant, sequence=sequence, actor=request.user)
    return _sequence_detail(request, sequence)
