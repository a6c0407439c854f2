from django.contrib import admin

from scendcore.admin_base import TabularInline, TenantAdmin

from .models import Activity, Enrollment, EnrollmentTally, Sequence, SequenceTally, Step


class StepInline(TabularInline):
    model = Step
    extra = 0
    fields = ["order", "job_type", "channel", "delay_value", "delay_unit", "business_days_only",
              "requires_human_approval"]
    show_change_link = True


@admin.register(Sequence)
class SequenceAdmin(TenantAdmin):
    list_display = ["name", "status", "owner", "agent", "is_default", "auto_enroll_enabled", "updated_at"]
    list_filter = ["status", "is_default", "auto_enroll_enabled", "stop_on_reply", "stop_on_meeting",
                   "reenroll_policy", "rejection_policy"]
    search_fields = ["name", "description"]
    raw_id_fields = ["owner", "sender_profile", "mailbox_pool", "agent", "created_by", "updated_by"]
    readonly_fields = ["archived_at", "version"]
    inlines = [StepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "agent")


@admin.register(Step)
class StepAdmin(TenantAdmin):
    list_display = ["sequence", "order", "job_type", "channel", "delay_value", "delay_unit",
                    "requires_human_approval"]
    list_filter = ["channel", "job_type", "delay_unit", "requires_human_approval", "business_days_only"]
    search_fields = ["sequence__name", "angle", "subject_template"]
    raw_id_fields = ["sequence"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sequence")


@admin.register(Enrollment)
class EnrollmentAdmin(TenantAdmin):
    list_display = ["id", "contact", "sequence", "status", "current_step", "waiting_on", "next_run_at",
                    "enrolled_at"]
    list_filter = ["status", "waiting_on", "priority", "enrolled_via"]
    search_fields = ["contact__email", "sequence__name"]
    raw_id_fields = ["sequence", "contact", "current_step", "enrolled_by"]
    readonly_fields = ["lease_owner", "lease_expires_at", "last_step_at", "finished_at"]
    date_hierarchy = "enrolled_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact", "sequence", "current_step__sequence")


@admin.register(Activity)
class ActivityAdmin(TenantAdmin):
    list_display = ["created_at", "kind", "contact", "sequence", "detail", "actor"]
    list_filter = ["kind"]
    search_fields = ["contact__email", "sequence__name", "detail"]
    raw_id_fields = ["enrollment", "contact", "sequence", "step", "actor"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact", "sequence", "actor")


@admin.register(EnrollmentTally)
class EnrollmentTallyAdmin(TenantAdmin):
    """The dashboard's counts, written by database triggers; a row added here is a
    signed correction, summed with the rest (see models.EnrollmentTally)."""

    list_display = ["user", "status", "delta"]
    list_filter = ["status"]
    search_fields = ["user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(SequenceTally)
class SequenceTallyAdmin(TenantAdmin):
    """The sequences list's and the builder's counts, written by database triggers; a row
    added here is a signed correction, summed with the rest (see models.SequenceTally)."""

    list_display = ["sequence", "step", "status", "delta"]
    list_filter = ["status"]
    search_fields = ["sequence__name"]
    raw_id_fields = ["sequence", "step"]
