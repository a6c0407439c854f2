from django.contrib import admin
from django.db import models

from scendcore.admin_base import TabularInline, TenantAdmin

from .models import (
    Activity, Enrollment, EnrollmentTally, GoalReached, Sequence, SequenceTally, SequenceVersion, Step,
)
from .services.versions import first_version_create


class StepInline(TabularInline):
    """The published version's nodes. Nodes belong to a version and are added through the
    builder or the API, which keep keys and paths consistent."""

    model = Step
    extra = 0
    fields = ["order", "key", "kind", "title", "job_type", "channel", "delay_value", "delay_unit",
              "business_days_only", "requires_human_approval"]
    readonly_fields = ["key", "kind"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).filter(version__sequence__current_version=models.F("version"))

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Sequence)
class SequenceAdmin(TenantAdmin):
    list_display = ["name", "status", "owner", "agent", "is_default", "auto_enroll_enabled", "updated_at"]
    list_filter = ["status", "is_default", "auto_enroll_enabled", "stop_on_reply", "stop_on_meeting",
                   "reenroll_policy", "rejection_policy"]
    search_fields = ["name", "description"]
    raw_id_fields = ["owner", "sender_profile", "mailbox_pool", "agent", "created_by", "updated_by"]
    readonly_fields = ["archived_at", "version", "current_version"]
    inlines = [StepInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "agent")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            first_version_create(sequence=obj, actor=request.user)


@admin.register(SequenceVersion)
class SequenceVersionAdmin(TenantAdmin):
    """Versions are made by the builder, the API and publishing; an edit here changes
    what pinned enrollments follow, so it is for repairs only."""

    list_display = ["sequence", "number", "state", "published_at", "published_by"]
    list_filter = ["state"]
    search_fields = ["sequence__name", "note"]
    raw_id_fields = ["sequence", "created_by", "published_by"]


@admin.register(GoalReached)
class GoalReachedAdmin(TenantAdmin):
    list_display = ["reached_at", "sequence", "goal_name", "contact"]
    search_fields = ["sequence__name", "goal_name", "contact__email"]
    raw_id_fields = ["sequence", "version", "enrollment", "contact"]
    date_hierarchy = "reached_at"


@admin.register(Step)
class StepAdmin(TenantAdmin):
    list_display = ["sequence", "order", "job_type", "channel", "delay_value", "delay_unit",
                    "requires_human_approval"]
    list_filter = ["channel", "job_type", "delay_unit", "requires_human_approval", "business_days_only"]
    search_fields = ["sequence__name", "angle", "subject_template"]
    raw_id_fields = ["sequence", "version"]

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
