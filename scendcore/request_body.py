"""The one reader of request bodies that the JSON API and the provider webhooks share.

A body is refused, with a message saying why, before any other code sees it: when it is
larger than the caller's limit (read no further than that), not UTF-8, not JSON, nested
deeper than MAX_DEPTH, has a number that is not finite, or carries a NUL character
(PostgreSQL cannot store one in text or jsonb)."""
import json
import math

from django.core.validators import ProhibitNullCharactersValidator

# Nothing this app accepts is nested more than a few levels; deeper input only costs
# recursion in every layer that walks it.
MAX_DEPTH = 32
NUL_MESSAGE = str(ProhibitNullCharactersValidator.message)
NOT_JSON = "The request body is not valid JSON."
NOT_OBJECT = "The body must be a JSON object."


class BodyError(Exception):
    """`status` is 413 (too large), 400 (malformed) or 422 (a field holds a NUL)."""

    def __init__(self, status, errors):
        super().__init__(errors)
        self.status = status
        self.errors = errors


def size_text(limit):
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def declared_too_large(request, limit):
    # CONTENT_LENGTH is whatever the client sent: not necessarily a number.
    declared = request.META.get("CONTENT_LENGTH") or "0"
    return declared.isdigit() and int(declared) > limit


def read_limited(request, limit):
    """The body, or None when it is larger than `limit` (read no further than that)."""
    if declared_too_large(request, limit):
        return None
    data = request.read(limit + 1)
    return None if len(data) > limit else data


def _refuse_constant(name):
    raise ValueError(f"{name} is not a number in JSON")


def _decode(raw):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(400, {"__all__": [f"The request body is not valid UTF-8 (bad byte at offset {exc.start})."]}) \
            from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyError(400, {"__all__": [_too_deep()]}) from None
    except ValueError:
        raise BodyError(400, {"__all__": [NOT_JSON]}) from None


def _too_deep():
    return f"The JSON is nested too deeply (at most {MAX_DEPTH} levels)."


def _check_values(data, *, allow_nul=False):
    """Depth, finite numbers and NULs (unless allowed), walked without recursion; NULs are
    reported under the top-level field that holds them."""
    stack = [(data, 0, None)]
    while stack:
        value, depth, field = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyError(400, {"__all__": [_too_deep()]})
        if isinstance(value, dict):
            for key, item in value.items():
                owner = field if field is not None else key
                if "\x00" in key and not allow_nul:
                    raise BodyError(422, {"__all__": [f"{NUL_MESSAGE[:-1]} in field names."]})
                stack.append((item, depth + 1, owner))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, field) for item in value)
        elif isinstance(value, str) and "\x00" in value and not allow_nul:
            raise BodyError(422, {field if field is not None else "__all__": [NUL_MESSAGE]})
        elif isinstance(value, float) and not math.isfinite(value):
            raise BodyError(400, {field if field is not None else "__all__": ["Numbers must be finite."]})


def parse_json(raw, *, allow_nul=False):
    """The JSON value in `raw` (bytes), checked; BodyError says what is wrong. With
    `allow_nul` the caller takes NUL characters and makes its text storable itself."""
    data = _decode(raw or b"")
    _check_values(data, allow_nul=allow_nul)
    return data


def parse_json_object(raw, *, allow_empty=False):
    """The JSON object in `raw` (bytes), checked; BodyError says what is wrong."""
    if not raw and allow_empty:
        return {}
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise BodyError(400, {"__all__": [NOT_OBJECT]})
    return data


def _read(request, limit):
    raw = read_limited(request, limit)
    if raw is None:
        raise BodyError(413, {"__all__": [f"Payload too large (limit {size_text(limit)})."]})
    return raw


def json_object(request, *, limit, allow_empty=False):
    """The request's JSON object body, read within `limit` bytes and checked."""
    return parse_json_object(_read(request, limit), allow_empty=allow_empty)


def json_value(request, *, limit, allow_nul=False):
    """The request's JSON body (any value: providers post arrays of events), checked."""
    return parse_json(_read(request, limit), allow_nul=allow_nul)
