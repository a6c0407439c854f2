from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .admin_base import TenantAdmin
from .models import ApiToken, AuditEntry, Membership, Tenant

admin.site.site_header = "ScendCore administration"
admin.site.site_title = "ScendCore admin"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user", "tenant"]
    readonly_fields = ["created_at"]


@admin.register(Tenant)
class TenantModelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "default_timezone", "send_window_enabled", "tracking_enabled",
                    "reps_can_approve", "created_at"]
    list_filter = ["send_window_enabled", "tracking_enabled", "reps_can_approve", "default_timezone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    exclude = ["inbound_secret"]
    inlines = [MembershipInline]


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


@admin.register(ApiToken)
class ApiTokenAdmin(TenantAdmin):
    list_display = ["name", "user", "created_at", "last_used_at"]
    search_fields = ["name", "user__username"]
    raw_id_fields = ["user"]
    readonly_fields = ["key_hash", "last_used_at"]


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class UserWithMembershipsAdmin(DjangoUserAdmin):
    """Users and their roles in each tenant, edited in one place."""

    inlines = [MembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "workspaces", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "memberships__role", "memberships__tenant"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__tenant")

    @admin.display(description="workspaces (role)")
    def workspaces(self, obj):
        return ", ".join(f"{m.tenant.name} ({m.role})" for m in obj.memberships.all()) or "—"

