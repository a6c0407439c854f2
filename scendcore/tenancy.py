"""Current-tenant resolution and the role checks every view starts with."""
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404

from .models import Membership

SESSION_KEY = "tenant_id"


def resolve_membership(request):
    memberships = Membership.objects.select_related("tenant").filter(user=request.user)
    tenant_id = request.session.get(SESSION_KEY)
    if tenant_id:
        chosen = memberships.filter(tenant_id=tenant_id).first()
        if chosen:
            return chosen
    return memberships.order_by("tenant__name", "id").first()


def switch_tenant(request, *, tenant_id):
    """Make `tenant_id` current for this session. A tenant the user is not a member of
    answers 404, the same as a tenant that does not exist."""
    membership = (
        Membership.objects.select_related("tenant")
        .filter(user=request.user, tenant_id=tenant_id)
        .first()
    )
    if membership is None:
        raise Http404("No such workspace.")
    request.session[SESSION_KEY] = membership.tenant_id
    request.membership = membership
    request.tenant = membership.tenant
    return membership


def tenant_required(view):
    """The request must have a current tenant (a logged-in user with a membership)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if getattr(request, "tenant", None) is None:
            raise PermissionDenied("You are not a member of any workspace.")
        return view(request, *args, **kwargs)

    return wrapper


def manager_required(view):
    @wraps(view)
    @tenant_required
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_manager:
            raise PermissionDenied("Managers only.")
        return view(request, *args, **kwargs)

    return wrapper


def admin_required(view):
    @wraps(view)
    @tenant_required
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_admin:
            raise PermissionDenied("Admins only.")
        return view(request, *args, **kwargs)

    return wrapper


def get_for_tenant(queryset, request_or_tenant, **lookup):
    """The single object matching `lookup` inside the current tenant, or 404 — the same
    answer for an object that is missing and one that belongs to another tenant."""
    tenant = getattr(request_or_tenant, "tenant", request_or_tenant)
    obj = queryset.filter(tenant=tenant, **lookup).first()
    if obj is None:
        raise Http404("Not found.")
    return obj


def role_subquery(*, tenant_field="tenant_id", user_field):
    """The role of the row's `user_field` in the row's tenant, as an annotation (None when
    that user is nobody, or not a member there)."""
    return Subquery(
        Membership.objects.filter(tenant_id=OuterRef(tenant_field), user_id=OuterRef(user_field)).values("role")[:1]
    )


def membership_of(*, tenant, user_id):
    """The user's membership of the tenant (its tenant loaded), or None."""
    if user_id is None:
        return None
    return Membership.objects.select_related("tenant").filter(tenant=tenant, user_id=user_id).first()


def role_of(*, tenant, user_id):
    """The user's role in the tenant, or None when they are not a member (or nobody)."""
    if user_id is None:
        return None
    return Membership.objects.filter(tenant=tenant, user_id=user_id).values_list("role", flat=True).first()
