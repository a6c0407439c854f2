"""JSON API for contacts: custom events another system posts about a contact. Access is
checked first and the body read after, so another workspace's contact is a 404 whatever
was sent."""
from typing import Any

from ninja import Router, Schema, Status

from scendcore.api.inputs import Body, Text, body_doc, read_body

from .access import get_contact
from .services import events as event_services

router = Router(tags=["contacts"])


class Errors(Schema):
    errors: dict[str, list[str]]


class CustomEventIn(Body):
    name: Text(event_services.NAME_LENGTH)
    data: dict[str, Any] = {}


class CustomEventOut(Schema):
    contact_id: int
    name: str
    data: dict[str, Any]


@router.post("/{int:contact_id}/events/", url_name="contact-events",
             response={201: CustomEventOut, 404: Errors, 422: Errors}, openapi_extra=body_doc(CustomEventIn))
def contact_event_create(request, contact_id: int):
    """Record a custom event `{"name": "trial_started", "data": {...}}` for the contact: a
    flow waiting for it moves on, and it shows on the contact's timeline."""
    contact = get_contact(request, contact_id)
    body = read_body(request, CustomEventIn)
    stored = event_services.contact_custom_event_record(
        tenant=request.tenant, contact=contact, name=body.name, data=body.data, actor=request.user)
    return Status(201, {"contact_id": contact.pk, **stored})
