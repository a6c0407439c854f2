from django.contrib import admin

from scendcore.admin_base import TabularInline, TenantAdmin

from .models import (
    Contact, ContactEvent, ContactList, ImportJob, ImportRejectedRow, ListMembership, Suppression, Tag,
)
from .suppression import address_hash, normalize_address


@admin.register(Tag)
class TagAdmin(TenantAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Contact)
class ContactAdmin(TenantAdmin):
    list_display = ["email", "first_name", "last_name", "company", "owner", "lead_status", "score_band",
                    "do_not_contact", "created_at"]
    list_filter = ["lead_status", "score_band", "do_not_contact", "source",
                   ("unsubscribed_at", admin.EmptyFieldListFilter), ("bounced_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "first_name", "last_name", "company", "title"]
    raw_id_fields = ["owner", "tags"]
    readonly_fields = ["last_replied_at", "last_meeting_at", "last_contacted_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")


class ListMembershipInline(TabularInline):
    model = ListMembership
    extra = 0
    raw_id_fields = ["contact"]
    readonly_fields = ["added_at"]


@admin.register(ContactList)
class ContactListAdmin(TenantAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name"]
    raw_id_fields = ["created_by"]
    inlines = [ListMembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.register(ListMembership)
class ListMembershipAdmin(TenantAdmin):
    tenant_path = "contact_list__tenant"
    list_display = ["contact_list", "contact", "added_at"]
    search_fields = ["contact__email", "contact_list__name"]
    raw_id_fields = ["contact_list", "contact"]
    readonly_fields = ["added_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact_list", "contact")


@admin.register(ContactEvent)
class ContactEventAdmin(TenantAdmin):
    list_display = ["occurred_at", "kind", "contact", "created_at"]
    list_filter = ["kind"]
    search_fields = ["contact__email"]
    raw_id_fields = ["contact", "message"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact")


class ImportRejectedRowInline(TabularInline):
    model = ImportRejectedRow
    extra = 0
    can_delete = False
    readonly_fields = ["line", "email", "reason", "values"]
    max_num = 0


@admin.register(ImportJob)
class ImportJobAdmin(TenantAdmin):
    list_display = ["file_name", "status", "total_rows", "created_count", "updated_count", "rejected_count",
                    "created_by", "created_at"]
    list_filter = ["status", "duplicate_policy"]
    search_fields = ["file_name"]
    raw_id_fields = ["created_by", "contact_list"]
    readonly_fields = ["started_at", "finished_at"]
    exclude = ["source_text"]
    inlines = [ImportRejectedRowInline]

    def get_queryset(self, request):
        # source_text is the whole uploaded file (up to 50 MB): never load it for a list.
        return super().get_queryset(request).select_related("created_by").defer("source_text")


@admin.register(ImportRejectedRow)
class ImportRejectedRowAdmin(TenantAdmin):
    tenant_path = "job__tenant"
    list_display = ["job", "line", "email", "reason"]
    search_fields = ["email", "reason"]
    raw_id_fields = ["job"]

    def get_queryset(self, request):
        # The job is joined for its tenant and name; not for its uploaded file.
        return super().get_queryset(request).defer("job__source_text")


@admin.register(Suppression)
class SuppressionAdmin(TenantAdmin):
    list_display = ["address", "reason", "source", "created_at", "erased_at"]
    list_filter = ["reason", ("erased_at", admin.EmptyFieldListFilter)]
    search_fields = ["address", "address_hash", "source"]
    raw_id_fields = ["created_by"]
    readonly_fields = ["address_hash", "erased_at"]

    def save_model(self, request, obj, form, change):
        # The hash is the key the rule looks entries up by: it follows the address typed here.
        if obj.address:
            obj.address = normalize_address(obj.address)
            obj.address_hash = address_hash(obj.address)
        super().save_model(request, obj, form, change)
