"""How transitions word times in activity rows: the contact's local time, labelled as
such, so "due Tue 09:00" means what the contact will see. The text is stored, so it names
the day and the zone itself rather than leaning on the page around it."""
from scendcore.zones import their_time_text

from ..models import StepKind
from ..scheduling import contact_zone


def zone_of(enrollment):
    return contact_zone(enrollment.contact, enrollment.sequence.tenant)


def local(when, zone):
    return their_time_text(when, zone)


def step_label(step):
    """"Step 2 (Email)" for a step that sends or makes a task; a node of another kind by
    its name ("Step 3 (Wait for a click)")."""
    if step.kind in (StepKind.MESSAGE, StepKind.TASK):
        return f"Step {step.order} ({step.get_channel_display()})"
    return f"Step {step.order} ({step.title or step.get_kind_display()})"


def due(step, when, zone):
    return f"{step_label(step)} due {local(when, zone)}"
