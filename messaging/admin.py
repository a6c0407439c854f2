from django import forms
from django.contrib import admin

from scendcore.admin_base import TenantAdmin

from .models import (
    DeliveryFeedback, InboundMessage, InboundQuarantine, Mailbox, MailboxPool, OutboundMessage, PoolMember, SendRecord,
    Task,
)
from .services import crypto


class MailboxAdminForm(forms.ModelForm):
    """Stored passwords are encrypted and never shown; typing a new one replaces it."""

    new_smtp_password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored SMTP password.",
    )
    new_imap_password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored IMAP password.",
    )

    class Meta:
        model = Mailbox
        exclude = ["smtp_password_encrypted", "imap_password_encrypted"]

    def save(self, commit=True):
        mailbox = super().save(commit=False)
        if self.cleaned_data.get("new_smtp_password"):
            mailbox.smtp_password_encrypted = crypto.encrypt(self.cleaned_data["new_smtp_password"])
        if self.cleaned_data.get("new_imap_password"):
            mailbox.imap_password_encrypted = crypto.encrypt(self.cleaned_data["new_imap_password"])
        if commit:
            mailbox.save()
        return mailbox


class PoolMemberInline(admin.TabularInline):
    model = PoolMember
    extra = 0
    raw_id_fields = ["mailbox"]


@admin.register(Mailbox)
class MailboxAdmin(TenantAdmin):
    form = MailboxAdminForm
    list_display = ["name", "from_email", "status", "daily_cap", "hourly_cap", "warmup_enabled", "imap_enabled"]
    list_filter = ["status", "tls_mode", "warmup_enabled", "imap_enabled"]
    search_fields = ["name", "from_email", "from_name", "smtp_host"]
    readonly_fields = ["imap_last_uid"]


@admin.register(MailboxPool)
class MailboxPoolAdmin(TenantAdmin):
    list_display = ["name", "cursor"]
    search_fields = ["name"]
    readonly_fields = ["cursor"]
    inlines = [PoolMemberInline]


@admin.register(PoolMember)
class PoolMemberAdmin(TenantAdmin):
    tenant_path = "pool__tenant"
    list_display = ["pool", "mailbox", "weight"]
    search_fields = ["pool__name", "mailbox__from_email"]
    raw_id_fields = ["pool", "mailbox"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pool", "mailbox")


@admin.register(SendRecord)
class SendRecordAdmin(TenantAdmin):
    list_display = ["sent_at", "mailbox", "recipient_domain"]
    search_fields = ["recipient_domain", "mailbox__from_email"]
    raw_id_fields = ["mailbox"]
    readonly_fields = ["sent_at"]
    date_hierarchy = "sent_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("mailbox")


@admin.register(OutboundMessage)
class OutboundMessageAdmin(TenantAdmin):
    list_display = ["id", "channel", "state", "to_address", "subject", "mailbox", "created_at", "sent_at"]
    list_filter = ["state", "channel"]
    search_fields = ["to_address", "subject", "message_id", "idempotency_key"]
    raw_id_fields = ["enrollment", "step", "contact", "agent_job", "mailbox", "thread_root"]
    readonly_fields = ["idempotency_key", "message_id", "approved_content_hash", "attempts", "claimed_by",
                       "queued_at", "sent_at"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("mailbox")


@admin.register(InboundMessage)
class InboundMessageAdmin(TenantAdmin):
    list_display = ["received_at", "classification", "from_address", "subject", "contact"]
    list_filter = ["classification"]
    search_fields = ["from_address", "subject", "message_id", "in_reply_to"]
    raw_id_fields = ["mailbox", "contact", "matched_message"]
    readonly_fields = ["received_at"]
    date_hierarchy = "received_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("contact")


@admin.register(Task)
class TaskAdmin(TenantAdmin):
    list_display = ["title", "kind", "status", "owner", "contact", "due_at", "completed_at"]
    list_filter = ["status", "kind"]
    search_fields = ["title", "contact__email", "owner__username"]
    raw_id_fields = ["owner", "contact", "enrollment", "step", "completed_by"]
    readonly_fields = ["idempotency_key", "completed_at"]
    date_hierarchy = "due_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "contact")


@admin.register(InboundQuarantine)
class InboundQuarantineAdmin(TenantAdmin):
    list_display = ["received_at", "status", "source", "from_address", "subject", "attempts"]
    list_filter = ["status", "source"]
    search_fields = ["from_address", "subject", "message_id"]
    raw_id_fields = ["mailbox", "inbound", "decided_by"]
    readonly_fields = ["raw_sha256", "received_at", "decided_at"]
    exclude = ["raw"]  # the message's bytes: retried or discarded from the app's quarantine page
    date_hierarchy = "received_at"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw")


@admin.register(DeliveryFeedback)
class DeliveryFeedbackAdmin(TenantAdmin):
    list_display = ["occurred_at", "kind", "mailbox", "message", "source"]
    list_filter = ["kind", "source"]
    search_fields = ["mailbox__from_email", "source"]
    raw_id_fields = ["mailbox", "message"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("mailbox")
