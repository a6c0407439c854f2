from django import forms

from scendcore import outbound
from scendcore.forms import SecretInputs, clear_input, secret_input

from .models import Mailbox, MailboxPool


PORT_ERROR = "A port is a number from 1 to 65535."


def port_input(label, default):
    # The model field only says "positive": a TCP port is 1-65535, and a mailbox saved
    # with 99999 would fail at send time instead of here.
    return forms.IntegerField(label=label, initial=default, min_value=1, max_value=65535,
                              error_messages={"min_value": PORT_ERROR, "max_value": PORT_ERROR})


class MailboxForm(SecretInputs, forms.ModelForm):
    """Passwords are write-only: never rendered back; left empty, the stored one stays.
    The tenant types them: no field here names a server environment variable (only an
    operator can, in the Django admin). Hosts must pass the outbound rule."""

    SECRET_INPUTS = ("smtp_password", "imap_password")
    smtp_password = secret_input("SMTP password", what="password")
    clear_smtp_password = clear_input("Remove the stored SMTP password")
    imap_password = secret_input("IMAP password", what="password")
    clear_imap_password = clear_input("Remove the stored IMAP password")
    smtp_port = port_input("SMTP port", 587)
    imap_port = port_input("IMAP port", 993)

    class Meta:
        model = Mailbox
        fields = [
            "name", "from_name", "from_email", "reply_to", "signature", "status",
            "smtp_host", "smtp_port", "smtp_username", "smtp_password", "clear_smtp_password", "tls_mode",
            "daily_cap", "hourly_cap", "min_gap_seconds", "gap_jitter_seconds", "domain_daily_max",
            "warmup_enabled", "warmup_start_cap", "warmup_daily_increase", "warmup_target_cap", "warmup_start_date",
            "imap_enabled", "imap_host", "imap_port", "imap_use_ssl", "imap_username", "imap_password",
            "clear_imap_password",
        ]
        labels = {
            "smtp_host": "SMTP host", "smtp_port": "SMTP port", "smtp_username": "SMTP username", "tls_mode": "TLS",
            "min_gap_seconds": "Minimum gap (seconds)", "gap_jitter_seconds": "Random extra gap (seconds)",
            "domain_daily_max": "Daily maximum per recipient domain", "warmup_enabled": "Warm up this mailbox",
            "imap_enabled": "Poll for replies over IMAP", "imap_host": "IMAP host", "imap_port": "IMAP port",
            "imap_use_ssl": "IMAP over TLS", "imap_username": "IMAP username",
        }
        widgets = {
            "signature": forms.Textarea(attrs={"rows": 3}),
            "warmup_start_date": forms.DateInput(attrs={"type": "date"}),
        }

    def clean_smtp_host(self):
        outbound.validate_host(self.cleaned_data["smtp_host"])
        return self.cleaned_data["smtp_host"]

    def clean_imap_host(self):
        outbound.validate_host(self.cleaned_data["imap_host"])
        return self.cleaned_data["imap_host"]

    def clean(self):
        data = super().clean()
        if data.get("hourly_cap") and data.get("daily_cap") is not None and data["hourly_cap"] > data["daily_cap"]:
            self.add_error("hourly_cap", "The hourly cap cannot be above the daily cap.")
        if data.get("warmup_enabled") and not data.get("warmup_start_date"):
            self.add_error("warmup_start_date", "A warmup needs a start date.")
        self.check_secret_inputs(data)
        if data.get("status") == "active" and not data.get("smtp_host"):
            self.add_error("smtp_host", "An active mailbox needs an SMTP host.")
        if data.get("imap_enabled") and not data.get("imap_host"):
            self.add_error("imap_host", "IMAP polling needs a host.")
        return data


class PoolForm(forms.ModelForm):
    """The pool's name plus one weight per mailbox of the tenant (0 = not a member)."""

    class Meta:
        model = MailboxPool
        fields = ["name"]

    def __init__(self, *args, mailboxes, weights=None, **kwargs):
        super().__init__(*args, **kwargs)
        weights = weights or {}
        self.mailboxes = list(mailboxes)
        for mailbox in self.mailboxes:
            self.fields[f"weight_{mailbox.pk}"] = forms.IntegerField(
                label=str(mailbox), min_value=0, max_value=100, initial=weights.get(mailbox.pk, 0), required=False,
            )

    def weight_fields(self):
        return [self[f"weight_{m.pk}"] for m in self.mailboxes]

    def weights(self):
        return {m.pk: self.cleaned_data.get(f"weight_{m.pk}") or 0 for m in self.mailboxes}

    def clean(self):
        data = super().clean()
        if not self.errors and not any(self.weights().values()):
            raise forms.ValidationError("Give at least one mailbox a weight above 0.")
        return data


class TaskFinishForm(forms.Form):
    outcome_note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    # One of the choices the task's node defines (checked by the service).
    outcome = forms.CharField(required=False, max_length=100)


class SmsInboundForm(forms.Form):
    """An inbound SMS as Twilio-compatible providers post it (field names are theirs).
    Django's text fields refuse NUL characters, which PostgreSQL cannot store."""

    From = forms.CharField(max_length=32)
    Body = forms.CharField(max_length=1600, required=False, strip=False)


class ReputationSettingsForm(forms.ModelForm):
    """The tenant's circuit-breaker thresholds (rates in percent)."""

    class Meta:
        from scendcore.models import Tenant

        model = Tenant
        fields = ["reputation_window_sends", "reputation_min_sends", "complaint_rate_limit", "bounce_rate_limit"]
        labels = {
            "reputation_window_sends": "Count over the last … sends",
            "reputation_min_sends": "Only once a mailbox has … sends",
            "complaint_rate_limit": "Pause above this complaint rate (%)",
            "bounce_rate_limit": "Pause above this hard-bounce rate (%)",
        }
        help_texts = {
            "complaint_rate_limit": "Gmail and Yahoo ask bulk senders to stay below 0.3 %.",
            "reputation_min_sends": "Fewer sends say too little: one complaint in ten sends is 10 %.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reputation_window_sends"].min_value = 1
        for name in ("complaint_rate_limit", "bounce_rate_limit"):
            self.fields[name].widget.attrs.update(step="0.01", min="0.01", max="100")

    def _rate(self, name):
        value = self.cleaned_data[name]
        if value <= 0 or value > 100:
            raise forms.ValidationError("A rate above 0 and at most 100 (%).")
        return value

    def clean_complaint_rate_limit(self):
        return self._rate("complaint_rate_limit")

    def clean_bounce_rate_limit(self):
        return self._rate("bounce_rate_limit")

    def clean(self):
        data = super().clean()
        window, minimum = data.get("reputation_window_sends"), data.get("reputation_min_sends")
        if window is not None and window < 1:
            self.add_error("reputation_window_sends", "Count over at least one send.")
        if window and minimum is not None and minimum > window:
            self.add_error("reputation_min_sends", "The minimum cannot be above the window.")
        return data
