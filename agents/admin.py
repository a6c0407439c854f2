from django import forms
from django.contrib import admin

from scendcore import credentials, outbound
from scendcore.admin_base import OperatorOnlyFieldsAdmin, TenantAdmin
from scendcore.forms import SecretInputs, clear_input, secret_input

from .models import PROVIDER_SETTING_NAMES, Agent, AgentJob


class AgentAdminForm(SecretInputs, forms.ModelForm):
    """The API key is write-only here too. provider_settings takes only the known
    settings (never a credential); the environment reference is an operator's."""

    SECRET_INPUTS = ("api_key",)
    api_key = secret_input("API key", what="key", strip=True)
    clear_api_key = clear_input("Remove the stored API key")

    class Meta:
        model = Agent
        fields = "__all__"

    def clean_provider_settings(self):
        settings = self.cleaned_data["provider_settings"] or {}
        if not isinstance(settings, dict):
            raise forms.ValidationError("Write a JSON object.")
        unknown = sorted(set(settings) - set(PROVIDER_SETTING_NAMES))
        if unknown:
            raise forms.ValidationError(
                f"Unknown settings: {', '.join(unknown)}. Allowed: {', '.join(PROVIDER_SETTING_NAMES)}."
            )
        outbound.validate_url(str(settings.get("base_url") or ""))
        return settings

    def clean_api_key_env(self):
        name = self.cleaned_data["api_key_env"].strip()
        credentials.validate_env_reference(name)
        return name

    def clean(self):
        data = super().clean()
        self.check_secret_inputs(data)
        return data

    def save(self, commit=True):
        agent = super().save(commit=False)
        changes = self.secret_changes()
        if "api_key" in changes:
            agent.api_key_encrypted = credentials.encrypt(changes["api_key"])
        if commit:
            agent.save()
        return agent


@admin.register(Agent)
class AgentAdmin(OperatorOnlyFieldsAdmin, TenantAdmin):
    form = AgentAdminForm
    operator_only_fields = ["api_key_env"]
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
