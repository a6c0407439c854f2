import secrets
from datetime import time
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


def default_window_days():
    return [0, 1, 2, 3, 4]  # Monday..Friday, as datetime.weekday() numbers


def new_inbound_secret():
    return secrets.token_urlsafe(32)


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    default_timezone = models.CharField(max_length=64, default="UTC")
    postal_address = models.TextField(
        blank=True, help_text="Printed in every email footer (anti-spam law requires it)."
    )
    # Contact frequency cap across all sequences (seed 002: 1 message per 48 hours).
    frequency_cap_messages = models.PositiveIntegerField(default=1)
    frequency_cap_hours = models.PositiveIntegerField(default=48)
    # Default send window for steps that do not set their own (recipient's local time).
    # Off by default: a step with no window of its own then fires as soon as it is due.
    send_window_enabled = models.BooleanField(
        default=False, help_text="Apply the default send window to steps without their own."
    )
    default_window_days = models.JSONField(default=default_window_days)
    default_window_start = models.TimeField(default=time(9, 0))
    default_window_end = models.TimeField(default=time(17, 0))
    tracking_enabled = models.BooleanField(default=True)
    allowed_link_domains = models.TextField(
        blank=True, help_text="One domain per line; links elsewhere in AI drafts need review."
    )
    reps_can_approve = models.BooleanField(
        default=False, help_text="Reps may approve drafts for their own contacts."
    )
    # Off: reps may attach only agents that review every draft, and drafts of sequences
    # not owned by a manager or admin always wait for review (agents/policy.py).
    reps_may_auto_send = models.BooleanField(
        default=False, help_text="Reps may use agents that send drafts without review."
    )
    # On: a rep sees and acts on only the contacts they own (contacts/visibility.py).
    reps_see_only_own_contacts = models.BooleanField(
        default=False, help_text="Reps see only the contacts they own; managers and admins see all."
    )
    inbound_secret = models.CharField(max_length=64, default=new_inbound_secret)
    # The mailbox circuit breaker (messaging.services.reputation): over a mailbox's last
    # `reputation_window_sends` sends, once there are at least `reputation_min_sends`,
    # a complaint or hard-bounce rate above these percentages pauses it. 0.3 % is the
    # spam-complaint rate Gmail and Yahoo tell bulk senders never to reach.
    reputation_window_sends = models.PositiveIntegerField(default=500)
    reputation_min_sends = models.PositiveIntegerField(default=200)
    complaint_rate_limit = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0.30"))
    bounce_rate_limit = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("5.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    REP = "rep", "Rep"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


MANAGER_ROLES = (Role.MANAGER, Role.ADMIN)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.REP)
    # The zone this member reads times in; empty follows the workspace's default_timezone,
    # so a workspace that moves its zone moves everyone who never chose one.
    timezone = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_tenant")
        ]
        ordering = ["tenant__name"]

    def __str__(self):
        return f"{self.user} @ {self.tenant} ({self.role})"

    @property
    def is_manager(self):
        return self.role in MANAGER_ROLES

    @property
    def is_admin(self):
        return self.role == Role.ADMIN


class AuditEntry(models.Model):
    """Who changed what and when, for configuration objects (sequences, steps,
    agents, mailboxes, settings). Enrollment history lives in sequences.Activity."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    action = models.CharField(max_length=64)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "object_type", "object_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.object_type}#{self.object_id} {self.action}"


class ApiToken(models.Model):
    """Bearer token for the JSON API; acts as its user inside one tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, help_text="sha256 of the token")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name


class Notification(models.Model):
    """A note for one user in one workspace, shown in the app (the bell in the top bar
    and the notifications page): a flow telling a contact's owner to look, for one."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    text = models.CharField(max_length=300)
    link = models.CharField(max_length=300, blank=True, help_text="A path inside the app.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "tenant", "-created_at"], name="notification_list_idx"),
            # The top bar's unread count: a few index entries per user.
            models.Index(fields=["user", "tenant"], condition=models.Q(read_at__isnull=True),
                         name="notification_unread_idx"),
        ]

    def __str__(self):
        return self.text
