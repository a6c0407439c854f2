from django.conf import settings
from django.db import models
from django.utils import timezone


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class ApprovalRequest(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(
        "messaging.OutboundMessage", on_delete=models.CASCADE, related_name="approval"
    )
    enrollment = models.ForeignKey("sequences.Enrollment", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    # Why the draft cannot be sent even if approved (contact unsubscribed or replied after drafting).
    blocked_reason = models.CharField(max_length=200, blank=True)
    # Why review was required: agent autonomy, step setting, flagged links …
    review_reasons = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        # The queue's order, oldest first, with the id that breaks ties: a page's ids are read
        # off it without a sort, on the last page as on the first.
        indexes = [models.Index(fields=["tenant", "status", "created_at", "id"], name="approval_queue_idx")]

    def __str__(self):
        return f"approval {self.pk} ({self.status})"


class DecisionKind(models.TextChoices):
    APPROVED = "approved", "Approved"
    EDITED_APPROVED = "edited_approved", "Edited and approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    REGENERATED = "regenerated", "Regenerated"


class ApprovalDecision(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    subject_before = models.TextField(blank=True)
    body_before = models.TextField(blank=True)
    subject_after = models.TextField(blank=True)
    body_after = models.TextField(blank=True)
    content_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of what was approved")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} by {self.actor_id}"
