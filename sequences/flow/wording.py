"""How transitions word times in activity rows: the contact's local time, with its zone
named, so "due Tue 09:00" means what the contact will see."""
from ..scheduling import contact_zone


def zone_of(enrollment):
    return contact_zone(enrollment.contact, enrollment.sequence.tenant)


def local(when, zone):
    return f"{when.astimezone(zone):%a %Y-%m-%d %H:%M} {zone.key}"


def step_label(step):
    return f"Step {step.order} ({step.get_channel_display()})"


def due(step, when, zone):
    return f"{step_label(step)} due {local(when, zone)}"
