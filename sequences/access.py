"""The sequence, step and enrollment a request may touch: another tenant's id is a 404,
and so is an enrollment of a contact the member may not see."""
from contacts.visibility import contact_scope
from scendcore.tenancy import get_for_tenant

from .models import Enrollment, Sequence, Step


def get_sequence_for_user(request, sequence_id):
    return get_for_tenant(
        Sequence.objects.select_related("agent", "sender_profile", "mailbox_pool", "current_version"), request,
        pk=sequence_id
    )


def get_step_for_user(request, sequence_id, step_id):
    """The step, inside the given sequence of the current tenant."""
    step = get_for_tenant(
        Step.objects.select_related("sequence", "sequence__agent", "sequence__sender_profile",
                                    "sequence__mailbox_pool"),
        request, pk=step_id, sequence_id=sequence_id,
    )
    return step.sequence, step


def visible_enrollments(request):
    """The tenant's enrollments of contacts the member may see (filter them further)."""
    return Enrollment.objects.filter(contact_scope(request.membership, path="contact__"), tenant=request.tenant)


def get_enrollment_for_user(request, enrollment_id, *, related=()):
    return get_for_tenant(visible_enrollments(request).select_related(*related), request, pk=enrollment_id)
