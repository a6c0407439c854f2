"""Approval requests the current user may see, or 404 (missing, another tenant's, or a
rep looking at a draft for someone else's contact all look the same)."""
from django.http import Http404

from .selectors import visible_approvals


def get_approval_for_user(request, approval_id):
    approval = (
        visible_approvals(tenant=request.tenant, membership=request.membership)
        .select_related("message__contact", "enrollment__sequence")
        .filter(pk=approval_id).first()
    )
    if approval is None:
        raise Http404("Not found.")
    return approval
