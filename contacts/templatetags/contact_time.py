from django import template

from sequences.scheduling import contact_zone

register = template.Library()


@register.simple_tag
def contact_local(value, contact, tenant):
    """`value` (UTC) in the contact's timezone, with the zone's abbreviation."""
    if not value:
        return "—"
    local = value.astimezone(contact_zone(contact, tenant))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
