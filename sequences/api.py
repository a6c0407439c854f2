"""JSON API for sequences (the endpoints of the email-sequence spec): create, read,
update settings, enroll, analytics, pause and resume."""
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.http import JsonResponse

from contacts.models import ContactList
from contacts.selectors import visible_contacts
from contacts.visibility import contact_scope
from messaging.models import OutboundMessage
from scendcore.api import api_view, json_body

from . import selectors
from .access import get_sequence_for_user
from .models import ReenrollPolicy, RejectionPolicy
from .services import enrollments as enrollment_services
from .services import sequences as sequence_services

MAX_ENROLL_IDS = 10_000
BOOLEAN_SETTINGS = ("stop_on_reply", "stop_on_meeting", "is_default")
TEXT_SETTINGS = ("name", "description")
CHOICE_SETTINGS = {"reenroll_policy": ReenrollPolicy, "rejection_policy": RejectionPolicy}
NUMBER_SETTINGS = ("reenroll_after_days", "approval_expiry_hours")
RELATED_SETTINGS = {"agent_id": "agent", "sender_profile_id": "sender_profile", "mailbox_pool_id": "mailbox_pool"}


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
        "is_default": sequence.is_default, "agent_id": sequence.agent_id,
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


@api_view(["GET", "POST"])
def sequence_collection(request):
    if request.method == "POST":
        return _sequence_create(request)
    sequences = list(selectors.sequence_list(tenant=request.tenant, status=request.GET.get("status", ""),
                                             q=request.GET.get("q", ""))[:500])
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[s.pk for s in sequences])
    return JsonResponse({"sequences": [_sequence_json(s, stats=stats[s.pk]) for s in sequences]})


def _sequence_create(request):
    data = json_body(request)
    template = data.get("template")
    if template:
        sequence = sequence_services.sequence_create_from_template(
            tenant=request.tenant, key=str(template), actor=request.user, name=data.get("name"))
    else:
        sequence = sequence_services.sequence_create(
            tenant=request.tenant, actor=request.user, name=str(data.get("name") or ""),
            description=str(data.get("description") or ""))
    return JsonResponse(_sequence_json(sequence, steps=sequence.steps.order_by("order")), status=201)


@api_view(["GET", "PATCH"])
def sequence_item(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    if request.method == "PATCH":
        values = _settings_from(json_body(request), tenant=request.tenant)
        sequence = sequence_services.sequence_update_settings(
            tenant=request.tenant, sequence=sequence, actor=request.user, values=values)
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[sequence.pk])[sequence.pk]
    return JsonResponse(_sequence_json(sequence, stats=stats, steps=sequence.steps.order_by("order")))


def _settings_from(data, *, tenant):
    """Shape-check a PATCH body; the service checks the rules."""
    from agents.models import Agent
    from messaging.models import Mailbox, MailboxPool

    models = {"agent": Agent, "sender_profile": Mailbox, "mailbox_pool": MailboxPool}
    known = set(BOOLEAN_SETTINGS) | set(TEXT_SETTINGS) | set(CHOICE_SETTINGS) | set(NUMBER_SETTINGS) | set(RELATED_SETTINGS)
    errors, values = {}, {}
    for key in set(data) - known:
        errors[key] = ["Unknown field."]
    for key in BOOLEAN_SETTINGS:
        if key in data:
            if isinstance(data[key], bool):
                values[key] = data[key]
            else:
                errors[key] = ["Must be true or false."]
    for key in TEXT_SETTINGS:
        if key in data:
            values[key] = str(data[key] or "")
    for key, choices in CHOICE_SETTINGS.items():
        if key in data:
            if data[key] in choices.values:
                values[key] = data[key]
            else:
                errors[key] = [f"Must be one of: {', '.join(choices.values)}."]
    for key in NUMBER_SETTINGS:
        if key in data:
            value = data[key]
            if value is None and key == "approval_expiry_hours":
                values[key] = None
            elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
                values[key] = value
            else:
                errors[key] = ["Must be a whole number above zero."]
    for key, name in RELATED_SETTINGS.items():
        if key in data:
            if data[key] is None:
                values[name] = None
                continue
            obj = models[name].objects.filter(tenant=tenant, pk=data[key]).first() if isinstance(data[key], int) else None
            if obj is None:
                errors[key] = ["No such object in this workspace."]
            values[name] = obj
    if errors:
        raise ValidationError(errors)
    return values


@api_view(["POST"])
def sequence_enroll(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    data = json_body(request)
    contact_ids = _contacts_to_enroll(data, tenant=request.tenant, membership=request.membership)
    result = enrollment_services.enrollments_bulk_create(
        tenant=request.tenant, sequence=sequence, contact_ids=contact_ids, actor=request.user, via="api")
    return JsonResponse({
        "enrolled": result.enrolled, "already_enrolled": result.already_enrolled,
        "skipped": {key: n for key, n in result.skipped.items() if n},
        "summary": result.summary(),
    })


def _contacts_to_enroll(data, *, tenant, membership):
    """Contact ids from `contact_ids`, `emails` or `list_id`, always scoped to the contacts
    the member may see (a colleague's contact is "not found" like another tenant's)."""
    given = [key for key in ("contact_ids", "emails", "list_id") if key in data]
    if len(given) != 1:
        raise ValidationError({"contact_ids": ["Send exactly one of contact_ids, emails or list_id."]})
    key = given[0]
    if key == "list_id":
        contact_list = ContactList.objects.filter(tenant=tenant, pk=data["list_id"]).first() \
            if isinstance(data["list_id"], int) else None
        if contact_list is None:
            raise ValidationError({"list_id": ["No such list in this workspace."]})
        return list(contact_list.contacts.filter(contact_scope(membership)).values_list("pk", flat=True))
    values = data[key]
    if not isinstance(values, list) or not values or len(values) > MAX_ENROLL_IDS:
        raise ValidationError({key: [f"Must be a non-empty list of at most {MAX_ENROLL_IDS} items."]})
    contacts = visible_contacts(tenant=tenant, membership=membership)
    if key == "contact_ids":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValidationError({key: ["Must contain contact ids (integers)."]})
        found = set(contacts.filter(pk__in=values).values_list("pk", flat=True))
        missing = [v for v in values if v not in found]
    else:
        wanted = {str(v).strip().lower(): v for v in values}
        rows = contacts.annotate(email_lower=Lower("email")).filter(email_lower__in=list(wanted))
        by_email = dict(rows.values_list("email_lower", "pk"))
        found = set(by_email.values())
        missing = [v for low, v in wanted.items() if low not in by_email]
    if missing:
        raise ValidationError({key: [f"Not found in this workspace: {', '.join(map(str, missing[:20]))}"]})
    return list(found)


@api_view(["GET"])
def sequence_analytics(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[sequence.pk])[sequence.pk]
    sent_states = ("sent", "bounced", "unknown")
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
    for step in sequence.steps.order_by("order"):
        row = per_step.get(step.pk, {})
        sent = row.get("sent", 0)
        steps.append({
            "step_id": step.pk, "order": step.order, "channel": step.channel,
            **{k: row.get(k, 0) for k in ("sent", "pending_approval", "bounced", "opened", "clicked", "replied")},
            "reply_rate": round(row.get("replied", 0) / sent, 4) if sent else None,
        })
    return JsonResponse({"sequence_id": sequence.pk, "enrollments": stats, "steps": steps})


@api_view(["POST"])
def sequence_pause(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    sequence = sequence_services.sequence_pause(tenant=request.tenant, sequence=sequence, actor=request.user)
    return JsonResponse(_sequence_json(sequence))


@api_view(["POST"])
def sequence_resume(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    sequence = sequence_services.sequence_resume(tenant=request.tenant, sequence=sequence, actor=request.user)
    return JsonResponse(_sequence_json(sequence))
