"""The sequence and step a request may touch: another tenant's id is a 404."""
from scendcore.tenancy import get_for_tenant

from .models import Sequence, Step


def get_sequence_for_user(request, sequence_id):
    return get_for_tenant(
        Sequence.objects.select_related("agent", "sender_profile", "mailbox_pool"), request, pk=sequence_id
    )


def get_step_for_user(request, sequence_id, step_id):
    """The step, inside the given sequence of the current tenant."""
    step = get_for_tenant(
        Step.objects.select_related("sequence", "sequence__agent", "sequence__sender_profile",
                                    "sequence__mailbox_pool"),
        request, pk=step_id, sequence_id=sequence_id,
    )
    return step.sequence, step
