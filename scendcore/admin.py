from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from .admin_base import ScopedModelAdmin, TabularInline, TenantAdmin, admin_tenant_ids
from .audit import audit_record, field_changes
from .models import ApiToken, AuditEntry, Membership, Notification, Tenant


class MembershipInline(TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user", "tenant"]
    readonly_fields = ["created_at"]


class UserMembershipInline(MembershipInline):
    # A user outside every workspace a staff member administers drops out of their view:
    # they add a user together with a role in one of theirs, and cannot remove the last.
    def get_min_num(self, request, obj=None, **kwargs):
        return None if admin_tenant_ids(request) is None else 1

    def get_formset(self, request, obj=None, **kwargs):
        if admin_tenant_ids(request) is not None:
            kwargs["validate_min"] = True
        return super().get_formset(request, obj, **kwargs)


@admin.register(Tenant)
class TenantModelAdmin(ScopedModelAdmin):
    list_display = ["name", "slug", "default_timezone", "send_window_enabled", "tracking_enabled",
                    "reps_can_approve", "created_at"]
    list_filter = ["send_window_enabled", "tracking_enabled", "reps_can_approve", "default_timezone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    exclude = ["inbound_secret"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            # The workspace's policies are audited wherever they are changed.
            changes = field_changes({name: form.initial.get(name) for name in form.changed_data},
                                    {name: form.cleaned_data.get(name) for name in form.changed_data})
            if changes:
                audit_record(tenant=obj, actor=request.user, object_type="tenant", object_id=obj.pk,
                             action="settings_updated", changes=changes)

    # Workspaces are created and removed by platform operators only.
    def has_add_permission(self, request):
        return admin_tenant_ids(request) is None and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return admin_tenant_ids(request) is None and super().has_delete_permission(request, obj)


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "tenant__name"]
    autocomplete_fields = ["user", "tenant"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantAdmin):
    list_display = ["created_at", "actor", "object_type", "object_id", "action"]
    list_filter = ["object_type", "action"]
    search_fields = ["object_type", "object_id", "action", "actor__username"]
    raw_id_fields = ["actor"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Notification)
class NotificationAdmin(TenantAdmin):
    list_display = ["created_at", "user", "text", "read_at"]
    search_fields = ["text", "user__username"]
    raw_id_fields = ["user"]
    date_hierarchy = "created_at"


@admin.register(ApiToken)
class ApiTokenAdmin(TenantAdmin):
    list_display = ["name", "user", "created_at", "last_used_at"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["key_hash", "last_used_at"]


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)

# What a staff member who is not a superuser may change about a user: never the
# platform's own switches (superuser, staff, groups, permissions).
WORKSPACE_ADMIN_FIELDSETS = (
    (None, {"fields": ("username", "password")}),
    (_("Personal info"), {"fields": ("first_name", "last_name", "email")}),
    (_("Status"), {"fields": ("is_active", "is_staff", "is_superuser")}),
    (_("Important dates"), {"fields": ("last_login", "date_joined")}),
)
PLATFORM_FIELDS = ("is_staff", "is_superuser", "last_login", "date_joined")


@admin.register(User)
class UserWithMembershipsAdmin(ScopedModelAdmin, DjangoUserAdmin):
    """Users and their roles in each tenant, edited in one place. A staff member who is
    not a superuser manages only the users whose every membership is in a workspace they
    administer (so editing one never reaches into another workspace), never a superuser."""

    inlines = [UserMembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "workspaces", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "memberships__role", "memberships__tenant"]

    def get_queryset(self, request):
        users = super().get_queryset(request).prefetch_related("memberships__tenant")
        ids = admin_tenant_ids(request)
        if ids is None:
            return users
        elsewhere = Membership.objects.filter(user=OuterRef("pk")).exclude(tenant_id__in=ids)
        return users.filter(is_superuser=False).exclude(Exists(elsewhere))

    def get_fieldsets(self, request, obj=None):
        if obj is None or admin_tenant_ids(request) is None:
            return super().get_fieldsets(request, obj)
        return WORKSPACE_ADMIN_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and admin_tenant_ids(request) is not None:
            readonly += [f for f in PLATFORM_FIELDS if f not in readonly]
        return readonly

    @admin.display(description="workspaces (role)")
    def workspaces(self, obj):
        return ", ".join(f"{m.tenant.name} ({m.role})" for m in obj.memberships.all()) or "—"
