from django.contrib import admin

from scendcore.admin_base import TenantAdmin

from .models import Agent, AgentJob


@admin.register(Agent)
class AgentAdmin(TenantAdmin):
    list_display = ["name", "sender_name", "autonomy", "provider", "approved_drafts", "is_active", "updated_at"]
    list_filter = ["autonomy", "provider", "is_active"]
    search_fields = ["name", "sender_name", "company_name"]
    readonly_fields = ["approved_drafts"]


@admin.register(AgentJob)
class AgentJobAdmin(TenantAdmin):
    list_display = ["id", "agent", "enrollment", "step", "status", "attempts", "provider", "duration_ms",
                    "created_at", "finished_at"]
    list_filter = ["status", "provider"]
    search_fields = ["agent__name", "enrollment__contact__email", "error"]
    raw_id_fields = ["agent", "enrollment", "step"]
    readonly_fields = ["finished_at", "duration_ms", "prompt_tokens", "completion_tokens"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent", "step__sequence")
