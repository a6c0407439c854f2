"""SMS: a small provider interface, a console backend for development (logs the
message) and a Twilio-compatible HTTP backend. SMS_BACKEND picks one; SMS_API_BASE
lets the HTTP backend talk to any Twilio-compatible endpoint (tests use a local one)."""
import base64
import hashlib
import hmac
import http.client
import json
import logging
import re
import uuid
from urllib import parse

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scendcore import outbound

logger = logging.getLogger(__name__)

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
MAX_RESPONSE_BYTES = 100_000


class SmsError(Exception):
    """The provider refused the message for good."""


class SmsTransientError(SmsError):
    """Try again later (network trouble, provider 5xx or 429)."""


class ConsoleSmsBackend:
    def send(self, *, to, body):
        sid = f"console-{uuid.uuid4().hex[:16]}"
        logger.info("SMS %s to %s: %s", sid, to, body)
        return sid


class TwilioSmsBackend:
    """POST {base}/2010-04-01/Accounts/{sid}/Messages.json, form-encoded To/From/Body,
    HTTP basic auth with the account SID and auth token."""

    def __init__(self, *, account_sid, auth_token, from_number, api_base, timeout=15):
        if not (account_sid and auth_token and from_number):
            raise SmsError("SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM must be set for the Twilio backend.")
        self.account_sid, self.auth_token, self.from_number = account_sid, auth_token, from_number
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def send(self, *, to, body):
        url = f"{self.api_base}/2010-04-01/Accounts/{parse.quote(self.account_sid)}/Messages.json"
        data = parse.urlencode({"To": to, "From": self.from_number, "Body": body}).encode()
        auth = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        try:
            response = outbound.http_request(url, method="POST", body=data, timeout=self.timeout,
                                             max_bytes=MAX_RESPONSE_BYTES, headers={
                "Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded",
            })
        except outbound.HostRefused as exc:
            raise SmsTransientError(f"SMS provider not reached: {exc}") from exc
        except (OSError, http.client.HTTPException, outbound.ResponseTooLarge) as exc:
            raise SmsTransientError(f"SMS provider unreachable: {exc}") from exc
        status, detail = response.status, response.body[:500].decode(errors="replace")
        if 300 <= status < 400:
            raise SmsError(f"SMS provider answered with a redirect ({status}); redirects are not followed.")
        if status >= 500 or status == 429:
            raise SmsTransientError(f"SMS provider answered {status}: {detail}")
        if status >= 400:
            raise SmsError(f"SMS provider refused the message ({status}): {detail}")
        try:
            payload = json.loads(response.body or b"{}")
        except ValueError as exc:
            raise SmsTransientError(f"SMS provider answered with something other than JSON: {exc}") from exc
        return str(payload.get("sid") or "") if isinstance(payload, dict) else ""


def sms_backend():
    name = getattr(settings, "SMS_BACKEND", "console")
    if name == "console":
        return ConsoleSmsBackend()
    if name == "twilio":
        return TwilioSmsBackend(
            account_sid=settings.SMS_ACCOUNT_SID, auth_token=settings.SMS_AUTH_TOKEN,
            from_number=settings.SMS_FROM, api_base=settings.SMS_API_BASE,
        )
    raise SmsError(f"Unknown SMS_BACKEND {name!r} (use 'console' or 'twilio').")


def twilio_signature(token, url, params):
    """Twilio's request signature: HMAC-SHA1, keyed with the auth token, of the full URL
    it called (query string included) followed by every POST parameter name and value,
    sorted by name (and a repeated name's values sorted), base64-encoded."""
    data = url
    for name in sorted(set(params)):
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        data += "".join(name + value for value in sorted(set(values)))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def sms_webhook_token(tenant):
    """The auth token that signs this tenant's inbound SMS webhooks ("" when none is set,
    and then only the shared secret is checked)."""
    return getattr(settings, "SMS_AUTH_TOKEN", "")


def sms_signature_valid(*, token, url, params, signature):
    expected = twilio_signature(token, url, params)
    return hmac.compare_digest(expected.encode(), (signature or "").encode())


def normalize_phone(value):
    digits = re.sub(r"[^\d+]", "", value or "")
    return digits if digits.startswith("+") else (f"+{digits}" if digits else "")


def is_stop(body):
    return (body or "").strip().strip(".!").upper() in STOP_WORDS


def sms_inbound(*, tenant, from_number, body, at=None):
    """An SMS from a contact. STOP and friends opt the contact out of SMS; anything
    else counts as a reply. Returns (contact, outcome) or (None, "unknown_sender")."""
    from contacts.facts import fact_record
    from contacts.models import Contact, EventKind

    at = at or timezone.now()
    phone = normalize_phone(from_number)
    if not phone:
        return None, "unknown_sender"
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(tenant=tenant, phone=phone).order_by("id").first()
        if contact is None:
            return None, "unknown_sender"
        if is_stop(body):
            fact_record(tenant=tenant, kind=EventKind.SMS_OPT_OUT, contact=contact, at=at, events="all",
                        data={"body": (body or "")[:160]})
            return contact, "opted_out"
        from .intent import reply_intent

        # A reply pauses what stops on one, or ends it by the exit rules (a reaction to the fact).
        fact_record(tenant=tenant, kind=EventKind.REPLIED, contact=contact, at=at,
                    data={"channel": "sms", "body": (body or "")[:1600], "intent": reply_intent(body=body or "")})
        return contact, "replied"
