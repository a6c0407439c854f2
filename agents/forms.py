from django import forms

from scendcore import outbound
from scendcore.forms import SecretInputs, clear_input, secret_input

from .drafting.merge import is_known_field
from .models import Agent, Provider


class AgentForm(SecretInputs, forms.ModelForm):
    """The agent's persona and autonomy, plus its provider settings and merge-field
    fallbacks, which are stored as JSON but edited as ordinary fields. The API key is
    typed here and write-only; no field names a server environment variable."""

    SECRET_INPUTS = ("api_key",)
    base_url = forms.URLField(required=False, label="Base URL", assume_scheme="https",
                              validators=[outbound.validate_url],
                              help_text="e.g. https://api.openai.com/v1. A server on a private network "
                                        "needs your operator to allow it.")
    model = forms.CharField(required=False, max_length=200)
    api_key = secret_input("API key", what="key", strip=True)
    clear_api_key = clear_input("Remove the stored API key")
    timeout_seconds = forms.FloatField(required=False, min_value=1, max_value=300, initial=30)
    temperature = forms.FloatField(required=False, min_value=0, max_value=2, initial=0.7)
    max_tokens = forms.IntegerField(required=False, min_value=16, max_value=8000, initial=700)
    fallbacks_text = forms.CharField(
        required=False, label="Merge-field fallbacks", widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line, field=value, e.g. first_name=there or custom.industry=your industry.",
    )

    class Meta:
        model = Agent
        fields = [
            "name", "sender_name", "sender_title", "company_name", "company_description",
            "sign_with_mailbox_signature", "tone", "avoid", "autonomy", "auto_after_approved", "provider",
            "is_active",
        ]
        widgets = {
            "company_description": forms.Textarea(attrs={"rows": 3}),
            "avoid": forms.Textarea(attrs={"rows": 3}),
        }

    SETTING_FIELDS = ("base_url", "model", "timeout_seconds", "temperature", "max_tokens")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = self.instance.provider_settings or {}
        for name in self.SETTING_FIELDS:
            if name in settings:
                self.initial[name] = settings[name]
        self.initial["fallbacks_text"] = "\n".join(f"{k}={v}" for k, v in (self.instance.fallbacks or {}).items())

    def clean_fallbacks_text(self):
        fallbacks = {}
        for number, line in enumerate(self.cleaned_data["fallbacks_text"].splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            name, value = name.strip().strip("{} "), value.strip()
            if not sep or not value:
                raise forms.ValidationError(f"Line {number}: write field=value.")
            if not is_known_field(name):
                raise forms.ValidationError(f"Line {number}: {name} is not a merge field.")
            fallbacks[name] = value
        return fallbacks

    def clean(self):
        data = super().clean()
        self.check_secret_inputs(data)
        if data.get("provider") == Provider.OPENAI_COMPATIBLE:
            for name in ("base_url", "model"):
                if not data.get(name):
                    self.add_error(name, "Required for the OpenAI-compatible provider.")
        return data

    def service_fields(self):
        """Cleaned data in the shape agent_create/agent_update take."""
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        settings = {n: self.cleaned_data[n] for n in self.SETTING_FIELDS if self.cleaned_data.get(n) not in (None, "")}
        data["provider_settings"] = settings
        data["fallbacks"] = self.cleaned_data["fallbacks_text"]
        data["secret_changes"] = self.secret_changes()
        return data
