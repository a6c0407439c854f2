from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError

from .models import Contact, LeadStatus, ScoreBand, custom_field_label
from .selectors import SORT_LABELS
from .services.imports import normalize_phone

SORT_CHOICES = list(SORT_LABELS.items())
# "Contacts active in another sequence" on bulk and list enrollment: posted as
# active_elsewhere; the empty default leaves it to the sequence (skipped for first-touch).
ACTIVE_ELSEWHERE = {"skip": True, "keep": False}


def skip_active_elsewhere(value):
    """True, False, or None for "the sequence decides" (enrollments_bulk_create)."""
    return ACTIVE_ELSEWHERE.get(value)
IN_SEQUENCE = [("", "Any"), ("yes", "In a sequence"), ("no", "Not in any sequence")]
CUSTOM_PREFIX = "custom__"
CUSTOM_MAX_LENGTH = 1000


class ContactFilterForm(forms.Form):
    """GET parameters of the contacts page; also posted back by bulk actions so that
    "select all matching" re-applies exactly this filter on the server."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "Any status")] + LeadStatus.choices)
    score = forms.ChoiceField(required=False, choices=[("", "Any score")] + ScoreBand.choices)
    list = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    tag = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    in_sequence = forms.ChoiceField(required=False, choices=IN_SEQUENCE, label="Sequences")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)

    PARAMS = ("q", "status", "score", "list", "owner", "tag", "in_sequence", "sort")

    def __init__(self, data, *, choices):
        super().__init__(data)
        self.fields["list"].choices = [("", "Any list")] + choices["lists"]
        self.fields["owner"].choices = [("", "Any owner")] + choices["owners"]
        self.fields["tag"].choices = [("", "Any tag")] + choices["tags"]

    def filters(self):
        """Cleaned filters; an invalid value (e.g. another tenant's list id) is dropped."""
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in (None, "")}


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["first_name", "last_name", "email", "phone", "company", "title", "timezone", "owner",
                  "lead_status", "score_band"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        from django.contrib.auth import get_user_model

        self.fields["owner"].queryset = get_user_model().objects.filter(memberships__tenant=tenant).order_by(
            "first_name", "last_name", "username")
        # People are shown by name everywhere else in the app, not by login.
        self.fields["owner"].label_from_instance = lambda user: user.get_full_name() or user.username
        self.fields["timezone"].help_text = "IANA name such as Europe/Berlin; empty uses the workspace's."
        # The contact's own custom fields (from an import), each editable under its label.
        custom = self.instance.custom_fields if isinstance(self.instance.custom_fields, dict) else {}
        self.custom_keys = list(custom)
        for key, value in custom.items():
            self.fields[CUSTOM_PREFIX + key] = forms.CharField(
                label=custom_field_label(key), required=False, initial="" if value is None else str(value),
                max_length=CUSTOM_MAX_LENGTH,
                error_messages={"max_length": f"A custom field holds at most {CUSTOM_MAX_LENGTH} characters."},
            )

    def clean(self):
        data = super().clean()
        if self.custom_keys:
            data["custom_fields"] = {key: data.pop(CUSTOM_PREFIX + key, "") for key in self.custom_keys
                                     if CUSTOM_PREFIX + key in data}
        return data

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        clash = Contact.objects.filter(tenant=self.tenant, email__iexact=email).exclude(pk=self.instance.pk)
        if clash.exists():
            raise ValidationError("Another contact already has this email address.")
        return email

    def clean_phone(self):
        try:
            return normalize_phone(self.cleaned_data["phone"])
        except ValidationError as exc:
            raise ValidationError(exc.messages[0][0].upper() + exc.messages[0][1:] + ".") from None

    def clean_timezone(self):
        tz = self.cleaned_data["timezone"].strip()
        if tz and tz not in available_timezones():
            raise ValidationError("Unknown timezone: use an IANA name such as Europe/Berlin.")
        return tz


class UploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV with a header row; at most 50 MB.")


class ListNameForm(forms.Form):
    name = forms.CharField(max_length=200)
