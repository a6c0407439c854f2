from django.contrib import admin

from scendcore.admin_base import TabularInline, TenantAdmin

from .models import ApprovalDecision, ApprovalRequest


class DecisionInline(TabularInline):
    model = ApprovalDecision
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "reason", "content_hash"]
    readonly_fields = fields
    max_num = 0


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(TenantAdmin):
    list_display = ["id", "message", "enrollment", "status", "blocked_reason", "expires_at", "created_at",
                    "decided_at", "decided_by"]
    list_filter = ["status"]
    search_fields = ["message__to_address", "message__subject", "blocked_reason"]
    raw_id_fields = ["message", "enrollment", "decided_by"]
    readonly_fields = ["decided_at"]
    date_hierarchy = "created_at"
    inlines = [DecisionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message", "decided_by")


@admin.register(ApprovalDecision)
class ApprovalDecisionAdmin(TenantAdmin):
    list_display = ["created_at", "request", "kind", "actor", "reason"]
    list_filter = ["kind"]
    search_fields = ["reason", "actor__username"]
    raw_id_fields = ["request", "actor"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")
