"""Every API error as `{"errors": {field: [message]}}`: validation 422 with the field's
name, authentication 401, CSRF 403, another tenant's (or a missing) object 404, an
oversized body 413."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from ..request_body import BodyError
from .auth import NO_CREDENTIALS

# Pydantic's error types in the app's words; `{name}` is filled from the error's context.
MESSAGES = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field.",
    "bool_type": "Must be true or false.",
    "bool_parsing": "Must be true or false.",
    "string_type": "Must be a text.",
    "string_too_long": "At most {max_length} characters.",
    "int_type": "Must be a whole number.",
    "int_parsing": "Must be a whole number.",
    "int_parsing_size": "Must be a whole number of a sensible size.",
    "int_from_float": "Must be a whole number.",
    "greater_than_equal": "Must be at least {ge}.",
    "greater_than": "Must be above {gt}.",
    "less_than_equal": "Must be at most {le}.",
    "less_than": "Must be below {lt}.",
    "list_type": "Must be a list.",
    "too_short": "Must hold at least {min_length} item(s).",
    "too_long": "Must hold at most {max_length} items.",
    "dict_type": "Must be a JSON object.",
    "model_type": "Must be a JSON object.",
    "model_attributes_type": "Must be a JSON object.",
}
# Where an error is located before the field's own name.
SOURCES = {"body", "query", "path", "header", "cookie", "form", "file", "payload"}


def error(status, errors):
    return JsonResponse({"errors": errors}, status=status)


def validation_errors(exc):
    """A Django ValidationError as {field: [messages]}."""
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


def _field_and_item(loc):
    rest = list(loc)
    while rest and rest[0] in SOURCES:
        rest.pop(0)
    field = str(rest[0]) if rest else "__all__"
    item = rest[1] if len(rest) > 1 and isinstance(rest[1], int) else None
    return field, item


def pydantic_errors(items):
    """Pydantic's error list as {field: [messages]}; an item of a list is named by position."""
    errors = {}
    for item in items:
        template = MESSAGES.get(item["type"])
        try:
            message = template.format(**item.get("ctx", {})) if template else item["msg"]
        except (KeyError, IndexError):
            message = item["msg"]
        field, position = _field_and_item(item["loc"])
        if position is not None:
            message = f"Item {position + 1}: {message}"
        if message not in errors.setdefault(field, []):
            errors[field].append(message)
    return errors


def install(api):
    """Register the handlers on a NinjaAPI."""

    @api.exception_handler(NinjaValidationError)
    def on_validation(request, exc):
        return error(422, pydantic_errors(exc.errors))

    @api.exception_handler(DjangoValidationError)
    def on_rule(request, exc):
        return error(422, validation_errors(exc))

    @api.exception_handler(BodyError)
    def on_body(request, exc):
        # The API answers any invalid input with 422; only the size keeps its own status.
        return error(413 if exc.status == 413 else 422, exc.errors)

    @api.exception_handler(AuthenticationError)
    def on_authentication(request, exc):
        return error(401, {"__all__": [NO_CREDENTIALS if exc.message == "Unauthorized" else exc.message]})

    @api.exception_handler(HttpError)
    def on_http_error(request, exc):
        if isinstance(exc.__cause__, BodyError):  # a body ninja parsed itself, through our parser
            return on_body(request, exc.__cause__)
        return error(exc.status_code, {"__all__": [exc.message]})

    @api.exception_handler(Http404)
    def on_not_found(request, exc):
        return error(404, {"__all__": ["Not found."]})
