"""Typed API inputs, bounded by what their columns store, and the one way a view reads its
JSON body: through the shared guard (size, UTF-8, depth, NUL), then a schema. Views read
the body after their access check, so another tenant's object is a 404 whatever was sent."""
from typing import Annotated

import pydantic
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import connection
from ninja import Schema
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from pydantic import AfterValidator, ConfigDict, Field, PlainValidator, StrictInt, StrictStr, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..request_body import json_object, parse_json_object

MAX_BODY_BYTES = 1024 * 1024


def column_range(model, field_name):
    """(lowest, highest) value the database column of an integer model field stores."""
    return connection.ops.integer_field_range(model._meta.get_field(field_name).get_internal_type())


def _no_nul(value):
    try:
        ProhibitNullCharactersValidator()(value)
    except DjangoValidationError as exc:
        raise PydanticCustomError("null_characters", str(exc.messages[0])) from None
    return value


def Text(max_length):
    """A JSON string of at most `max_length` characters, without NUL."""
    return Annotated[StrictStr, Field(max_length=max_length), AfterValidator(_no_nul)]


def Choice(values):
    allowed = tuple(values)

    def check(value):
        if not isinstance(value, str) or value not in allowed:
            raise PydanticCustomError("choice", "Must be one of: {choices}.", {"choices": ", ".join(allowed)})
        return value

    return Annotated[str, PlainValidator(check), WithJsonSchema({"type": "string", "enum": list(allowed)})]


def Count(model, field_name):
    """A whole number above zero that the model field's column can store."""
    return Annotated[StrictInt, Field(ge=1, le=column_range(model, field_name)[1])]


# Object ids are big serials: anything outside 1..2**63-1 names no row.
ObjectId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]
# Query-string numbers arrive as text, so these parse (not strict).
PageLimit = Annotated[int, Field(ge=1, le=500)]
PageOffset = Annotated[int, Field(ge=0, le=2**31 - 1)]


class Body(Schema):
    """A request body: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def read_body(request, schema):
    """The request's JSON body validated by `schema` (errors raise, mapped to 422)."""
    data = json_object(request, limit=MAX_BODY_BYTES, allow_empty=True)
    try:
        return schema.model_validate(data)
    except pydantic.ValidationError as exc:
        raise NinjaValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]) \
            from None


def body_doc(schema):
    """The OpenAPI request body of an operation that reads `schema` with read_body."""
    return {"requestBody": {"required": False, "content": {"application/json": {"schema": schema.model_json_schema()}}}}


class GuardedParser(Parser):
    """Bodies ninja parses itself (Body parameters) pass the same guard."""

    def parse_body(self, request):
        return parse_json_object(request.body)
