from . import selectors


def pending_count(request):
    """The navigation badge: one COUNT, only for those who can act on the queue."""
    membership = getattr(request, "membership", None)
    if not selectors.may_see_queue_count(membership):
        return {}
    return {"pending_approvals_count": selectors.pending_count(tenant=request.tenant, membership=membership)}
