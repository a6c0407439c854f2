"""`{% when moment %}` and `{% contact_time moment contact %}`: the one way a page shows a
moment (scendcore.zones has the rule)."""
from django import template
from django.utils import timezone

from scendcore.zones import their_time_text, when_text, zone_label, zone_named

register = template.Library()

NOTHING = "—"


@register.simple_tag
def when(value):
    """"Tue 3 Dec, 10:42 CET" in the viewer's zone (activated per request)."""
    if not value:
        return NOTHING
    return when_text(value, timezone.get_current_timezone())


@register.simple_tag(takes_context=True)
def contact_time(context, value, contact):
    """"13:49 their time (Los Angeles, PST)": the contact's local time, for where a send
    window makes it matter. A contact without a zone of its own follows the workspace's."""
    if not value:
        return NOTHING
    tenant = context.get("current_tenant") or getattr(contact, "tenant", None)
    zone = zone_named(getattr(contact, "timezone", ""), getattr(tenant, "default_timezone", ""))
    return their_time_text(value, zone, beside_zone=timezone.get_current_timezone())


@register.filter
def zone_name(name):
    """A stored zone key as a person reads it: "America/Los_Angeles" → "Los Angeles, PDT"."""
    return zone_label(zone_named(name)) if name else ""
