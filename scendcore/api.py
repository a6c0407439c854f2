"""Plumbing for the JSON API: bearer-token or session authentication inside one tenant,
and errors as JSON with field names."""
import hashlib
import json
import secrets
from functools import wraps

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import ApiToken, Membership

TOKEN_PREFIX = "sc_"


def token_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, tenant, user, name):
    """A new token; the plain key is returned once and only its hash is stored."""
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationError({"user": "That user is not a member of this workspace."})
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(tenant=tenant, user=user, name=name, key_hash=token_hash(key))
    return key


def error(status, errors):
    return JsonResponse({"errors": errors}, status=status)


def validation_errors(exc):
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


def _authenticate_token(request, header):
    key = header.removeprefix("Bearer ").strip()
    token = ApiToken.objects.select_related("tenant", "user").filter(key_hash=token_hash(key)).first()
    if token is None or not token.user.is_active:
        return False
    membership = Membership.objects.filter(tenant=token.tenant, user=token.user).select_related("tenant").first()
    if membership is None:  # the user left the workspace: the token dies with the membership
        return False
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    request.user, request.membership, request.tenant = token.user, membership, token.tenant
    return True


def api_view(methods):
    """JSON endpoint. A bearer token authenticates as its user in its tenant (no CSRF:
    the token is not ambient); otherwise the logged-in session is used, with CSRF."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            header = request.headers.get("Authorization", "")
            if header.startswith("Bearer "):
                if not _authenticate_token(request, header):
                    return error(401, {"__all__": ["Invalid or revoked API token."]})
            elif not request.user.is_authenticated or getattr(request, "tenant", None) is None:
                return error(401, {"__all__": ["Authentication required: send 'Authorization: Bearer <token>'."]})
            if request.method not in methods:
                return error(405, {"__all__": [f"Method {request.method} is not allowed here."]})
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return error(404, {"__all__": ["Not found."]})
            except ValidationError as exc:
                return error(422, validation_errors(exc))

        return csrf_exempt_for_tokens(wrapper)

    return decorator


def csrf_exempt_for_tokens(view):
    """Exempt from CSRF only requests that carry a bearer token; session requests keep it."""
    from django.middleware.csrf import CsrfViewMiddleware

    checker = CsrfViewMiddleware(lambda request: None)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            rejected = checker.process_view(request, None, (), {})
            if rejected is not None:
                return error(403, {"__all__": ["CSRF check failed: send the X-CSRFToken header."]})
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapper)


def json_body(request):
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError({"__all__": "The request body is not valid JSON."}) from None
    if not isinstance(data, dict):
        raise ValidationError({"__all__": "The request body must be a JSON object."})
    return data
