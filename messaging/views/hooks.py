"""Provider webhooks, authenticated by the tenant's inbound secret (header
X-Scendcore-Secret, or the password of HTTP basic auth for providers that can only
put credentials in the URL); the SMS hook also checks Twilio's request signature when an
SMS auth token is set. Errors are JSON with a clear message, and logged."""
import base64
import binascii
import hmac
import logging

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from scendcore.models import Tenant
from sequences.selectors import enrollments_paused_at
from scendcore.request_body import BodyError, declared_too_large, json_object, json_value, read_limited, size_text

from ..forms import SmsInboundForm
from ..services import esp_events, inbound, quarantine, sms

logger = logging.getLogger(__name__)

MAX_JSON_BYTES = 64 * 1024
# ESPs batch their events (SendGrid posts up to a thousand at once).
MAX_ESP_BYTES = 1024 * 1024


def _secret_given(request):
    given = request.headers.get("X-Scendcore-Secret", "")
    auth = request.headers.get("Authorization", "")
    if not given and auth.lower().startswith("basic "):
        try:
            given = base64.b64decode(auth[6:].strip()).decode().split(":", 1)[-1]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    return given


def _authenticate(request, tenant_slug):
    """The tenant, or an error response: 404 for no such tenant, 403 for a wrong secret."""
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    given = _secret_given(request)
    if tenant is None:
        logger.warning("webhook for unknown tenant %r", tenant_slug)
        return None, JsonResponse({"error": "Unknown workspace."}, status=404)
    if not given or not hmac.compare_digest(given.encode(), tenant.inbound_secret.encode()):
        logger.warning("webhook for tenant %s with a bad secret from %s", tenant.pk, request.META.get("REMOTE_ADDR"))
        return None, JsonResponse({"error": "Invalid or missing secret."}, status=403)
    return tenant, None


def _too_large(limit):
    return JsonResponse({"error": f"Payload too large (limit {size_text(limit)})."}, status=413)


@csrf_exempt
@require_POST
def inbound_mail(request, tenant_slug):
    tenant, error = _authenticate(request, tenant_slug)
    if error:
        return error
    raw = read_limited(request, inbound.MAX_RAW_BYTES)
    if raw is None:
        logger.warning("inbound mail for tenant %s refused: too large", tenant.pk)
        return _too_large(inbound.MAX_RAW_BYTES)
    try:
        outcome = quarantine.inbound_receive(tenant=tenant, raw=raw, source="webhook")
    except inbound.InboundError as exc:
        logger.warning("inbound mail for tenant %s refused: %s", tenant.pk, exc)
        return JsonResponse({"error": str(exc)}, status=exc.status)
    if outcome.quarantined:
        # Accepted: the message is stored and a person will look at it, so the provider
        # must not keep retrying (nor learn what went wrong inside).
        return JsonResponse({
            "ok": False, "quarantined": True, "id": outcome.quarantined.pk,
            "error": "The message could not be processed; it is kept for review.",
        }, status=202)
    return JsonResponse({
        "ok": True, "id": outcome.inbound.pk, "classification": outcome.classification,
        "duplicate": outcome.duplicate,
    }, status=200 if outcome.duplicate else 201)


@csrf_exempt
@require_POST
def meeting_booked(request, tenant_slug):
    from contacts.models import Contact

    tenant, error = _authenticate(request, tenant_slug)
    if error:
        return error
    try:
        payload = json_object(request, limit=MAX_JSON_BYTES)
    except BodyError as exc:
        logger.info("meeting webhook for tenant %s refused: %s", tenant.pk, exc.errors)
        return _too_large(MAX_JSON_BYTES) if exc.status == 413 else JsonResponse({"errors": exc.errors}, status=exc.status)
    errors = {}
    address = payload.get("email")
    contact = None
    if not isinstance(address, str) or not address.strip():
        errors["email"] = ["This field is required."]
    else:
        try:
            validate_email(address.strip())
            contact = Contact.objects.filter(tenant=tenant, email__iexact=address.strip()).first()
            if contact is None:
                errors["email"] = ["No contact with this email address in this workspace."]
        except ValidationError:
            errors["email"] = ["Enter a valid email address."]
    starts_at = None
    if payload.get("starts_at") not in (None, ""):
        starts_at = parse_datetime(str(payload["starts_at"])) if isinstance(payload["starts_at"], str) else None
        if starts_at is None or starts_at.tzinfo is None:
            errors["starts_at"] = ["Use an ISO 8601 date and time with a timezone, e.g. 2030-01-31T15:00:00Z."]
    source = payload.get("source") or ""
    if not isinstance(source, str) or len(source) > 100:
        errors["source"] = ["A text of at most 100 characters."]
    if errors:
        logger.info("meeting webhook for tenant %s refused: %s", tenant.pk, errors)
        return JsonResponse({"errors": errors}, status=422)
    at = timezone.now()
    inbound.meeting_booked(tenant=tenant, contact=contact, starts_at=starts_at, source=source, at=at)
    paused = enrollments_paused_at(tenant=tenant, contact_id=contact.pk, at=at)
    return JsonResponse({"ok": True, "contact_id": contact.pk, "enrollments_paused": paused}, status=201)


@csrf_exempt
@require_POST
def sms_inbound(request, tenant_slug):
    tenant, error = _authenticate(request, tenant_slug)
    if error:
        return error
    if declared_too_large(request, MAX_JSON_BYTES):
        return _too_large(MAX_JSON_BYTES)
    token = sms.sms_webhook_token(tenant)
    if token and not sms.sms_signature_valid(token=token, url=request.build_absolute_uri(), params=request.POST,
                                             signature=request.headers.get("X-Twilio-Signature", "")):
        logger.warning("inbound SMS for tenant %s with a bad signature from %s", tenant.pk, request.META.get("REMOTE_ADDR"))
        return JsonResponse({"error": "Invalid or missing X-Twilio-Signature request signature."}, status=403)
    form = SmsInboundForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=422)
    contact, outcome = sms.sms_inbound(tenant=tenant, from_number=form.cleaned_data["From"],
                                       body=form.cleaned_data["Body"])
    if contact is None:
        logger.info("inbound SMS for tenant %s from an unknown number", tenant.pk)
        return JsonResponse({"errors": {"From": ["No contact with this phone number."]}}, status=422)
    # Twilio expects TwiML; an empty response sends no automatic answer.
    return HttpResponse('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', content_type="text/xml")


@csrf_exempt
@require_POST
def esp_events_hook(request, tenant_slug):
    """Complaint and bounce events of an email service provider (SendGrid, Mailgun,
    Amazon SES through SNS, Postmark), as JSON."""
    tenant, error = _authenticate(request, tenant_slug)
    if error:
        return error
    try:
        # An event echoes what the provider was given (our Message-ID, a recipient): a
        # NUL there must not lose the complaint. The reader of events stores text safely.
        payload = json_value(request, limit=MAX_ESP_BYTES, allow_nul=True)
    except BodyError as exc:
        return JsonResponse({"errors": exc.errors}, status=exc.status)
    try:
        provider, events = esp_events.esp_events_read(payload)
    except esp_events.UnknownPayload as exc:
        return JsonResponse({"errors": {"__all__": [str(exc)]}}, status=422)
    except ValidationError as exc:
        logger.info("ESP events for tenant %s refused: %s", tenant.pk, exc.message_dict)
        return JsonResponse({"errors": exc.message_dict}, status=422)
    counts = esp_events.esp_events_record(tenant=tenant, provider=provider, events=events)
    return JsonResponse({"ok": True, **counts})
