def tenancy(request):
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    memberships = []
    if user is not None and user.is_authenticated and membership is not None:
        memberships = list(user.memberships.select_related("tenant").order_by("tenant__name"))
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "user_memberships": memberships,
        "is_manager": bool(membership and membership.is_manager),
        "is_admin": bool(membership and membership.is_admin),
        "unread_notifications": _unread(request, membership),
    }


def _unread(request, membership):
    if membership is None:
        return 0
    from .notifications import unread_count

    return unread_count(tenant=membership.tenant, user=request.user)
