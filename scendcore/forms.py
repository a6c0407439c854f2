"""Shapes of the foundation's forms; the rules that touch the database live in services."""
import re
import zoneinfo
from functools import lru_cache

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator

from .models import Tenant
from .zones import zone_label, zone_named

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@lru_cache(maxsize=1)
def timezone_choices():
    names = sorted(n for n in zoneinfo.available_timezones() if "/" in n or n == "UTC")
    return [(n, n.replace("_", " ")) for n in names]


def normalise_domains(text):
    """One lowercase domain per line from lines that may be URLs; raises on junk."""
    domains, bad = [], []
    for raw in (text or "").splitlines():
        line = raw.strip().lower()
        if not line:
            continue
        line = re.sub(r"^[a-z][a-z0-9+.-]*://", "", line).split("/", 1)[0].split(":", 1)[0]
        line = line.removeprefix("*.").removeprefix("www.").rstrip(".")
        if DOMAIN_RE.match(line):
            if line not in domains:
                domains.append(line)
        else:
            bad.append(raw.strip())
    if bad:
        raise forms.ValidationError(
            "Not a domain: %(bad)s. Write one domain per line, e.g. example.com.",
            params={"bad": ", ".join(bad[:5])},
        )
    return "\n".join(domains)


class MySettingsForm(forms.Form):
    """A member's own settings. `tenant` names the workspace default in the empty choice."""

    timezone = forms.ChoiceField(
        label="Your time zone", required=False,
        help_text="Every time on every page is shown in this zone; contacts' local times stay beside "
                  "them where a send window matters.",
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        default = zone_label(zone_named(tenant.default_timezone))
        self.fields["timezone"].choices = [("", f"The workspace's ({default})"), *timezone_choices()]

    def clean_timezone(self):
        name = self.cleaned_data["timezone"]
        # The choices are a subset of available_timezones(); checked again so that a zone
        # the machine's tzdata lost since the choices were cached is refused, not stored.
        if name and name not in zoneinfo.available_timezones():
            raise forms.ValidationError("Pick a time zone from the list.")
        return name


# Never rendered back: an edit form shows an empty input.
WRITE_ONLY = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class SecretInputs:
    """For forms that take credentials: each name in SECRET_INPUTS is a write-only input
    (left empty, the stored secret stays) plus a `clear_<name>` checkbox that removes
    it. Declare both with `secret_input` and `clear_input`, call `check_secret_inputs`
    from clean(), and hand `secret_changes()` to the service, which encrypts."""

    SECRET_INPUTS = ()

    def check_secret_inputs(self, data):
        for name in self.SECRET_INPUTS:
            if data.get(name) and data.get(f"clear_{name}"):
                self.add_error(f"clear_{name}", "Either type a new one or remove the stored one, not both.")

    def secret_changes(self):
        """{name: new plaintext, or "" to remove} for each secret this submission changes."""
        changes = {}
        for name in self.SECRET_INPUTS:
            if self.cleaned_data.get(f"clear_{name}"):
                changes[name] = ""
            elif self.cleaned_data.get(name):
                changes[name] = self.cleaned_data[name]
        return changes

    def plain_changed_data(self):
        """changed_data without the secret inputs, which services report themselves."""
        secret = {*self.SECRET_INPUTS, *(f"clear_{n}" for n in self.SECRET_INPUTS)}
        return [name for name in self.changed_data if name not in secret]


def secret_input(label, *, what, strip=False):
    return forms.CharField(
        label=label, required=False, strip=strip, widget=WRITE_ONLY,
        help_text=f"Stored encrypted and never shown. Leave empty to keep the current {what}.",
    )


def clear_input(label):
    return forms.BooleanField(label=label, required=False)


class LoginForm(AuthenticationForm):
    """Django's login form sets the username's max_length only for the widget; the bound
    here runs before authentication, so a long name never reaches the lockout records."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].validators.append(MaxLengthValidator(self.fields["username"].max_length))


class TenantSettingsForm(forms.ModelForm):
    default_timezone = forms.ChoiceField(
        label="Default timezone", choices=timezone_choices,
        help_text="Used for contacts without a timezone of their own.",
    )
    default_window_days = forms.TypedMultipleChoiceField(
        label="Send window days", choices=WEEKDAYS, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    default_window_start = forms.TimeField(label="Window opens", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    default_window_end = forms.TimeField(label="Window closes", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    class Meta:
        model = Tenant
        fields = [
            "name", "default_timezone", "postal_address",
            "frequency_cap_messages", "frequency_cap_hours",
            "send_window_enabled", "default_window_days", "default_window_start", "default_window_end",
            "tracking_enabled", "allowed_link_domains", "reps_can_approve", "reps_may_auto_send",
            "reps_see_only_own_contacts",
        ]
        labels = {
            "frequency_cap_messages": "Frequency cap: messages",
            "frequency_cap_hours": "…per this many hours",
            "send_window_enabled": "Apply the default send window",
            "tracking_enabled": "Track opens and clicks",
            "reps_can_approve": "Reps may approve drafts for their own contacts",
            "reps_may_auto_send": "Reps may use agents that send without review",
            "reps_see_only_own_contacts": "Reps see only the contacts they own",
        }
        help_texts = {
            "frequency_cap_messages": "Most messages one contact gets across all sequences; 0 turns the cap off.",
            "reps_can_approve": "Managers and admins can always approve.",
            "reps_may_auto_send": "Off: reps attach only agents that review every draft, and drafts of sequences "
                                  "a rep owns always wait for review, whoever attached the agent.",
            "reps_see_only_own_contacts": "Off: every member sees every contact. On: a rep sees, enrolls and "
                                          "changes only contacts they own; managers and admins still see all.",
            "send_window_enabled": "Steps with a window of their own keep it.",
        }
        widgets = {
            "postal_address": forms.Textarea(attrs={"rows": 3}),
            "allowed_link_domains": forms.Textarea(attrs={"rows": 4, "placeholder": "example.com"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["postal_address"].required = True
        self.fields["postal_address"].help_text = (
            "Printed in every email footer; anti-spam laws require a real postal address."
        )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A workspace needs a name.")
        return name

    def clean_postal_address(self):
        address = self.cleaned_data["postal_address"].strip()
        if not address:
            raise forms.ValidationError("Enter the postal address printed in email footers.")
        return address

    def clean_allowed_link_domains(self):
        return normalise_domains(self.cleaned_data.get("allowed_link_domains"))

    def clean(self):
        data = super().clean()
        start, end = data.get("default_window_start"), data.get("default_window_end")
        if start and end and end <= start:
            self.add_error("default_window_end", "The window must close after it opens.")
        if data.get("send_window_enabled") and not data.get("default_window_days"):
            self.add_error("default_window_days", "Pick at least one day for the send window.")
        if data.get("frequency_cap_messages") and not data.get("frequency_cap_hours"):
            self.add_error("frequency_cap_hours", "A cap needs a period of at least one hour.")
        if "default_window_days" in data:
            data["default_window_days"] = sorted(set(data["default_window_days"]))
        return data
