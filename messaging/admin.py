from django import forms
from django.contrib import admin

from scendcore import credentials, outbound
from scendcore.admin_base import OperatorOnlyFieldsAdmin, TabularInline, TenantAdmin
from scendcore.forms import SecretInputs, clear_input, secret_input

from .models import (
    DeliveryFeedback, InboundMessage, InboundQuarantine, Mailbox, MailboxPool, OutboundMessage, PoolMember, SendRecord,
    Task,
)
from .services.mailboxes import SECRET_COLUMNS


class MailboxAdminForm(SecretInputs, forms.ModelForm):
    """Stored passwords are encrypted and never shown; typing a new one replaces it.
    The environment reference is an operator's (superusers only, see MailboxAdmin) and
    must name an allow-listed SCENDCORE_TENANT_ variable."""

    SECRET_INPUTS = ("smtp_password", "imap_password")
    smtp_password = secret_input("SMTP password", what="password")
    clear_smtp_password = clear_input("Remove the stored SMTP password")
    imap_password = secret_input("IMAP password", what="password")
    clear_imap_password = clear_input("Remove the stored IMAP password")

    class Meta:
        model = Mailbox
        fields = "__all__"

    def clean_smtp_password_env(self):
        name = self.cleaned_data["smtp_password_env"].strip()
        credentials.validate_env_reference(name)
        return name

    def clean_smtp_host(self):
        outbound.validate_host(self.cleaned_data["smtp_host"])
        return self.cleaned_data["smtp_host"]

    def clean_imap_host(self):
        outbound.validate_host(self.cleaned_data["imap_host"])
        return self.cleaned_data["imap_host"]

    def clean(self):
        data = super().clean()
        self.check_secret_inputs(data)
        return data

    def save(self, commit=True):
        mailbox = super().save(commit=False)
        for name, plaintext in self.secret_changes().items():
            setattr(mailbox, SECRET_COLUMNS[name], credentials.encrypt(plaintext))
        if commit:
            mailbox.save()
        return mailbox


class PoolMemberInline(TabularInline):
    model = PoolMember
    extra = 0
    raw_id_fields = ["mailbox"]


@admin.register(Mailbox)
class MailboxAdmin(OperatorOnlyFieldsAdmin, TenantAdmin):
    form = MailboxAdminForm
    operator_only_fields = ["smtp_password_env"]
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
