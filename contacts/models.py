from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    CONVERTED = "converted", "Converted"
    DISQUALIFIED = "disqualified", "Disqualified"


class ScoreBand(models.TextChoices):
    COLD = "cold", "Cold"
    WARM = "warm", "Warm"
    HOT = "hot", "Hot"


class Tag(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_tag_per_tenant")
        ]

    def __str__(self):
        return self.name


def custom_field_label(key):
    """A custom field's label: its key ("last_event", made from a CSV header) in words."""
    return key.replace("_", " ").strip().capitalize() or key


# Columns the contact table filters on by equality (see Contact.Meta.indexes).
TABLE_FILTERS = ("lead_status", "score_band", "owner")


class Contact(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14155550100")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    company = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200, blank=True)
    timezone = models.CharField(
        max_length=64, blank=True, help_text="IANA name; empty means the tenant's timezone."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead_status = models.CharField(max_length=16, choices=LeadStatus.choices, default=LeadStatus.NEW)
    score_band = models.CharField(max_length=8, choices=ScoreBand.choices, default=ScoreBand.COLD)
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    do_not_contact = models.BooleanField(default=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    # Denormalised from events so send-time checks need no extra query.
    last_replied_at = models.DateTimeField(null=True, blank=True)
    last_meeting_at = models.DateTimeField(null=True, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("email"), name="unique_contact_email_per_tenant"
            )
        ]
        # The contact table's sorts (contacts.selectors.SORTS), each within a tenant and read
        # either way: a page's ids come from an index-only scan, as cheap on page 1,000 as on
        # page 1. The filter columns trail the sort keys so a status, score or owner filter is
        # checked in the index too, without a visit to the table per row skipped.
        indexes = [
            models.Index(fields=["tenant", "last_name", "first_name", "id", *TABLE_FILTERS],
                         name="contact_table_name_idx"),
            # email itself too: PostgreSQL reads an expression index alone only when the
            # columns under the expression are in it.
            models.Index("tenant", Lower("email"), "id", *TABLE_FILTERS, "email", name="contact_table_email_idx"),
            models.Index(fields=["tenant", "company", "id", *TABLE_FILTERS], name="contact_table_company_idx"),
            models.Index(fields=["tenant", "created_at", "id", *TABLE_FILTERS], name="contact_table_created_idx"),
            # Counts of a filter, and a filter combined with a search (bitmap AND).
            models.Index(fields=["tenant", "lead_status"]),
            models.Index(fields=["tenant", "score_band"]),
            models.Index(fields=["tenant", "owner"]),
        ]

    def __str__(self):
        return self.full_name or self.email

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def custom_field_items(self):
        """[(label, value)] of the custom fields, in their stored order."""
        fields = self.custom_fields if isinstance(self.custom_fields, dict) else {}
        return [(custom_field_label(key), value) for key, value in fields.items()]


class ContactList(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contacts = models.ManyToManyField(Contact, through="ListMembership", related_name="lists")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # "Warm leads" and "warm leads" would be two lists a rep cannot tell apart.
            models.UniqueConstraint("tenant", Lower("name"), name="unique_list_name_per_tenant"),
        ]

    def __str__(self):
        return self.name


class ListMembership(models.Model):
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="unique_list_member")
        ]
        indexes = [models.Index(fields=["contact", "contact_list"])]


class EventKind(models.TextChoices):
    REPLIED = "replied", "Replied"
    AUTO_REPLY = "auto_reply", "Auto-reply / out of office"
    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    BOUNCED = "bounced", "Hard bounce"
    SOFT_BOUNCED = "soft_bounced", "Soft bounce"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    SMS_OPT_OUT = "sms_opt_out", "SMS opt-out"
    STATUS_CHANGED = "status_changed", "Status changed"
    DO_NOT_CONTACT = "do_not_contact", "Marked do-not-contact"
    COMPLAINED = "complained", "Marked an email as spam"
    SUPPRESSED = "suppressed", "Added to the suppression list"
    NOTE = "note", "Note"
    # A contact field's value changed: data {"field", "from", "to"}.
    FIELD_CHANGED = "field_changed", "Field changed"
    # A tag was put on the contact: data {"tag": id, "name"}.
    TAG_ADDED = "tag_added", "Tag added"
    # An event another system posted (API): data {"name", "data": {...}}.
    CUSTOM = "custom", "Custom event"


class ContactEvent(models.Model):
    """Something the contact did or that happened to them (the inbound half of the
    timeline; enrollment changes are sequences.Activity)."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    message = models.ForeignKey(
        "messaging.OutboundMessage", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="events",
    )
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["tenant", "contact", "-occurred_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.contact_id}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    MANUAL = "manual", "Added by hand"
    ERASURE = "erasure", "Erased at the person's request"


class Suppression(models.Model):
    """An address of the tenant that must never be contacted again (contacts.suppression
    holds the rule). Keyed by the address's keyed hash, so it outlives the contact; an
    erased person's entry keeps the hash only."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    # Normalized (trimmed, lowercase); empty once the person was erased.
    address = models.CharField(max_length=254, blank=True)
    address_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    source = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "address_hash"], name="unique_suppression_per_tenant")
        ]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self):
        return f"{self.address or self.address_hash[:12] + '…'} ({self.get_reason_display()})"


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Waiting for column mapping"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class DuplicatePolicy(models.TextChoices):
    UPDATE = "update", "Update the existing contact"
    SKIP = "skip", "Skip the row"


class ImportJob(models.Model):
    """One uploaded CSV file: its column mapping, progress and outcome. The decoded text
    is kept in the row so any worker machine can process it without shared storage."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255)
    source_text = models.TextField()
    headers = models.JSONField(default=list)
    delimiter = models.CharField(max_length=1, default=",")
    # {"<column index>": "<contact field>" | "custom:<key>" | ""}; "" ignores the column.
    mapping = models.JSONField(default=dict, blank=True)
    duplicate_policy = models.CharField(
        max_length=8, choices=DuplicatePolicy.choices, default=DuplicatePolicy.SKIP
    )
    contact_list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    skipped_existing_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # Imported, but their address is on the suppression list: they will not be contacted.
    suppressed_count = models.PositiveIntegerField(default=0)
    blank_lines = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self):
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def is_finished(self):
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    @property
    def percent(self):
        if not self.total_rows:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class ImportRejectedRow(models.Model):
    """A row the import refused, with the physical line of the file (header = line 1)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejected_rows")
    line = models.PositiveIntegerField()
    email = models.CharField(max_length=320, blank=True)
    reason = models.CharField(max_length=500)
    values = models.JSONField(default=list)

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["job", "line"])]

    def __str__(self):
        return f"line {self.line}: {self.reason}"
