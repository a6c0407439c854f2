from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from scendcore.credentials import SecretField


class TlsMode(models.TextChoices):
    NONE = "none", "None"
    STARTTLS = "starttls", "STARTTLS"
    SSL = "ssl", "SSL/TLS"


class MailboxStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"


class Mailbox(models.Model):
    """A sender profile: who the mail is from, and the SMTP account that sends it."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    from_name = models.CharField(max_length=200)
    from_email = models.EmailField()
    reply_to = models.EmailField(blank=True)
    signature = models.TextField(blank=True)
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_username = models.CharField(max_length=255, blank=True)
    # Typed by the tenant, encrypted at rest (scendcore.credentials), never rendered back.
    smtp_password_encrypted = SecretField()
    smtp_password_env = models.CharField(
        "SMTP password environment variable (operators only)", max_length=100, blank=True,
        help_text="Set by operators only: a variable named SCENDCORE_TENANT_… and listed in "
                  "TENANT_SECRET_ENV_NAMES, used when no password is stored.",
    )
    tls_mode = models.CharField(max_length=8, choices=TlsMode.choices, default=TlsMode.STARTTLS)
    daily_cap = models.PositiveIntegerField(default=200)
    hourly_cap = models.PositiveIntegerField(default=50)
    min_gap_seconds = models.PositiveIntegerField(default=0)
    gap_jitter_seconds = models.PositiveIntegerField(default=0)
    domain_daily_max = models.PositiveIntegerField(
        default=0, help_text="Most messages per recipient domain per day; 0 = no limit."
    )
    warmup_enabled = models.BooleanField(default=False)
    warmup_start_cap = models.PositiveIntegerField(default=5)
    warmup_daily_increase = models.PositiveIntegerField(default=5)
    warmup_target_cap = models.PositiveIntegerField(default=200)
    warmup_start_date = models.DateField(null=True, blank=True)
    imap_enabled = models.BooleanField(default=False)
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_username = models.CharField(max_length=255, blank=True)
    imap_password_encrypted = SecretField()
    imap_use_ssl = models.BooleanField(default=True, help_text="IMAP over TLS (port 993).")
    imap_last_uid = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=MailboxStatus.choices, default=MailboxStatus.ACTIVE)
    # Set when the circuit breaker paused the mailbox (shown to admins, who resume it).
    pause_reason = models.CharField(max_length=300, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # The breaker counts sends and feedback from here on: a resume starts a fresh count.
    reputation_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "mailboxes"

    def __str__(self):
        return f"{self.from_name} <{self.from_email}>"


class MailboxPool(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    mailboxes = models.ManyToManyField(Mailbox, through="PoolMember", related_name="pools")
    # Round-robin cursor, advanced atomically by the picker.
    cursor = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PoolMember(models.Model):
    pool = models.ForeignKey(MailboxPool, on_delete=models.CASCADE)
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE)
    weight = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "mailbox"], name="unique_pool_member")]


class SendRecord(models.Model):
    """One row per message a mailbox sent (or reserved a slot for): the sliding-window
    rate limiter counts these rows."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="send_records")
    recipient_domain = models.CharField(max_length=255)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["mailbox", "sent_at"]),
            models.Index(fields=["mailbox", "recipient_domain", "sent_at"]),
        ]


class MessageState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    CANCELLED = "cancelled", "Cancelled"
    UNKNOWN = "unknown", "Outcome unknown"


# Groups of states the rules share, named once so that no two places disagree.
S = MessageState
# Nothing has left the building: the work can still be cancelled.
UNSENT_STATES = (S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.QUEUED)
# The step's work is done once its message is in one of these (a repeated run follows it).
STEP_DONE_STATES = (S.APPROVED, S.QUEUED, S.SENDING, S.SENT, S.UNKNOWN)
# Count against the contact frequency cap while steps are processed: approved and waiting
# in the outbox, on their way, or gone.
CAPPED_STATES = (S.APPROVED, S.QUEUED, S.SENDING, S.SENT)
# Handed to the server, or maybe: the outcome is not known yet.
IN_FLIGHT_STATES = (S.SENDING, S.UNKNOWN)
# Reached, or may have reached, the recipient's server (replies and bounces match these).
LEFT_STATES = (S.SENT, S.UNKNOWN, S.BOUNCED)
# Need a person: never sent, or sent with an unknown outcome.
ATTENTION_STATES = (S.UNKNOWN, S.FAILED)
# May be (re)queued for delivery.
ENQUEUEABLE_STATES = (S.DRAFT, S.APPROVED, S.QUEUED, S.FAILED, S.UNKNOWN)
del S


class OutboundMessage(models.Model):
    """Written before anything leaves the building (DESIGN invariant 2): the unique
    idempotency key (enrollment, step, pass) makes a repeated execution find it."""

    # Written once per step by the processor: indexes covered by the tenant-first
    # composites (or only useful for LIKE queries nobody runs) are left out, and the
    # tenant (the contact's own) has no database constraint, which would cost a lookup
    # per row at commit; deleting a tenant cascades through Django.
    tenant = models.ForeignKey(
        "scendcore.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    idempotency_key = models.CharField(max_length=100)
    enrollment = models.ForeignKey(
        "sequences.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # The step is history (nulled through Django when it is deleted): no database
    # constraint, as for the tenant.
    step = models.ForeignKey(
        "sequences.Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    step_pass = models.PositiveIntegerField(default=1)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    agent_job = models.OneToOneField(
        "agents.AgentJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="message"
    )
    channel = models.CharField(max_length=16, default="email")
    state = models.CharField(max_length=20, choices=MessageState.choices, default=MessageState.DRAFT)
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages", db_index=False
    )
    to_address = models.CharField(max_length=254)
    # Set only for a test-mode sequence's message: the contact's own address, which it
    # was meant for and not sent to (to_address is then the rep's own).
    # db_default too: rows written outside the ORM (raw SQL) need no value for it.
    test_intended_to = models.CharField(max_length=254, blank=True, default="", db_default="")
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    # Review flags raised while drafting (e.g. a link outside the allowed domains).
    flags = models.JSONField(default=list, blank=True)
    # Who signed the draft: the agent persona's name (it is the From name, and the
    # mailbox's signature is left off), or "" when the mailbox's signature signs.
    # Database defaults too, as on test_intended_to: rows written by raw SQL stay valid.
    signed_by = models.CharField(max_length=200, blank=True, default="", db_default="")
    # The email as it was handed to the server, for the message page: {"headers": [[name,
    # value], …], "text": the plain body with signature and footer}; bounded (render.py).
    delivered = models.JSONField(default=dict, blank=True, db_default=models.Value({}, models.JSONField()))
    message_id = models.CharField(max_length=255, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    thread_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="thread_replies", db_index=False
    )
    approved_content_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Which delivery run claimed the message: a run only sends what it claimed, even
    # if its claim lease ran out and another run took the message over.
    claimed_by = models.CharField(max_length=64, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A constraint rather than unique=True: the same guarantee without the extra
            # varchar_pattern_ops index PostgreSQL would get for a unique CharField.
            models.UniqueConstraint(fields=["idempotency_key"], name="outbound_idempotency_key_unique"),
        ]
        indexes = [
            # Only sent messages have a Message-ID (replies are matched by it): drafts and
            # queued messages, written once per step by the processor, stay out.
            models.Index(fields=["message_id"], name="outbound_sent_message_id_idx", condition=~Q(message_id="")),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["queued", "sending"]),
                name="outbound_pending_idx",
            ),
            # Contact first: the contact's timeline, the frequency cap and the contact's
            # delete all use it, so no separate contact index is needed.
            models.Index(fields=["contact", "-created_at"]),
            # The Messages table's orders, newest first, over all states and by state; the
            # second also serves every (tenant, state) lookup and the bounded state counts.
            models.Index(fields=["tenant", "-created_at", "-id"], name="outbound_table_idx"),
            models.Index(fields=["tenant", "state", "-created_at", "-id"], name="outbound_table_state_idx"),
            # Most messages start no thread of replies: only those that do are indexed.
            models.Index(
                fields=["thread_root"], condition=Q(thread_root__isnull=False), name="outbound_thread_root_idx"
            ),
        ]

    def __str__(self):
        return f"{self.channel} to {self.to_address} ({self.state})"


class InboundClassification(models.TextChoices):
    REPLY = "reply", "Reply"
    AUTO_REPLY = "auto_reply", "Auto-reply"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCE = "soft_bounce", "Soft bounce"
    COMPLAINT = "complaint", "Spam complaint"
    FEEDBACK = "feedback", "Feedback report (no action)"
    UNMATCHED = "unmatched", "Unmatched"
    # Mail about a test-mode copy (the rep's answer, its bounce): it says nothing of the contact.
    TEST_COPY = "test_copy", "About a test copy (no action)"


class ReplyIntent(models.TextChoices):
    """What a reply says (services.intent); exit rules may act only on a positive one."""

    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class InboundMessage(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact = models.ForeignKey("contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    matched_message = models.ForeignKey(
        OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    classification = models.CharField(max_length=16, choices=InboundClassification.choices)
    # Set for replies only (classification "reply").
    intent = models.CharField(max_length=16, choices=ReplyIntent.choices, blank=True)
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    body_text = models.TextField(blank=True)
    raw = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-received_at"])]


class FeedbackKind(models.TextChoices):
    COMPLAINT = "complaint", "Spam complaint"
    HARD_BOUNCE = "hard_bounce", "Hard bounce"


class DeliveryFeedback(models.Model):
    """A complaint or hard bounce about mail a mailbox sent: what the circuit breaker
    counts against the mailbox's sends. Holds no address, so it outlives an erasure."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="feedback")
    message = models.ForeignKey(
        OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    kind = models.CharField(max_length=16, choices=FeedbackKind.choices)
    source = models.CharField(max_length=40)
    occurred_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            # One complaint (or bounce) per message, however many reports say so.
            models.UniqueConstraint(fields=["message", "kind"], condition=Q(message__isnull=False),
                                    name="one_feedback_per_message_and_kind"),
        ]
        indexes = [models.Index(fields=["mailbox", "kind", "occurred_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.mailbox_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class QuarantineStatus(models.TextChoices):
    HELD = "held", "Held for review"
    RELEASED = "released", "Processed on retry"
    DISCARDED = "discarded", "Discarded"


class InboundQuarantine(models.Model):
    """An inbound message that failed processing for a reason other than being
    malformed or unmatched (a defect, or input nobody foresaw). The exact bytes are kept
    so a retry processes what arrived; the webhook answered and IMAP polling moved on."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=16)  # webhook | imap
    status = models.CharField(max_length=10, choices=QuarantineStatus.choices, default=QuarantineStatus.HELD)
    from_address = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    raw = models.BinaryField(blank=True)
    raw_sha256 = models.CharField(max_length=64)
    error = models.TextField()
    attempts = models.PositiveIntegerField(default=1)
    inbound = models.ForeignKey(InboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "-received_at"])]

    def __str__(self):
        return f"{self.subject or '(no subject)'} from {self.from_address or '?'} ({self.status})"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    SKIPPED = "skipped", "Skipped"


class Task(models.Model):
    """A task or call-reminder step waiting in its owner's inbox."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=100, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="tasks")
    enrollment = models.ForeignKey(
        "sequences.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    step = models.ForeignKey("sequences.Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    step_pass = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=16, default="task")  # task | call_reminder
    title = models.CharField(max_length=300)
    talking_points = models.TextField(blank=True)
    due_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome_note = models.TextField(blank=True)
    # One of the choices the task's node defines (Step.config["outcomes"]); its path is the one taken.
    outcome = models.CharField(max_length=100, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "owner", "status", "due_at"]),
            # The team's open tasks in the task page's order (the member's own use the one above).
            models.Index(fields=["tenant", "status", "due_at", "id"], name="task_team_order_idx"),
            # The Done tab, latest first: finished tasks only, as the tab filters them.
            models.Index(fields=["tenant", "-completed_at", "-id"], name="task_done_order_idx",
                         condition=Q(status__in=["completed", "skipped"])),
        ]

    def __str__(self):
        return self.title
