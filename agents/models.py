from django.db import models
from django.db.models import Q
from django.utils import timezone

from scendcore.credentials import SecretField

# The keys provider_settings may hold. Credentials are never among them: they live in
# their own encrypted column.
PROVIDER_SETTING_NAMES = (
    "base_url", "model", "timeout_seconds", "temperature", "max_tokens",
    "max_retries", "retry_backoff_seconds", "max_inline_wait_seconds",
)


class Autonomy(models.TextChoices):
    REVIEW_ALL = "review_all", "Review every draft"
    AUTO_SEND = "auto_send", "Send automatically"
    AUTO_AFTER_N = "auto_after_n", "Send automatically after N approved drafts"


class Provider(models.TextChoices):
    TEMPLATE = "template", "Built-in template writer (offline)"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible chat completions"


class Agent(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    # Persona: who the agent writes as, and how.
    sender_name = models.CharField(max_length=200, blank=True)
    sender_title = models.CharField(max_length=200, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    company_description = models.TextField(blank=True)
    # Who signs its emails (agents.drafting.signoff): the persona, unless this is set.
    sign_with_mailbox_signature = models.BooleanField(
        default=False, db_default=False,  # a database default: rows written by raw SQL stay valid
        help_text="End emails with the mailbox's signature (and send under the mailbox's From name) "
                  "instead of the persona's sign-off.",
    )
    tone = models.CharField(max_length=200, blank=True, default="friendly, concise, professional")
    avoid = models.TextField(blank=True, help_text="Topics, words or claims never to use.")
    autonomy = models.CharField(max_length=16, choices=Autonomy.choices, default=Autonomy.REVIEW_ALL)
    auto_after_approved = models.PositiveIntegerField(
        default=20, help_text="With 'after N approved drafts': how many clean approvals first."
    )
    approved_drafts = models.PositiveIntegerField(default=0)
    provider = models.CharField(max_length=24, choices=Provider.choices, default=Provider.TEMPLATE)
    # base_url, model, timeout_seconds, temperature, max_tokens (see PROVIDER_SETTING_NAMES)
    provider_settings = models.JSONField(default=dict, blank=True)
    # The model server's API key, typed by the tenant; encrypted, never shown back.
    api_key_encrypted = SecretField()
    api_key_env = models.CharField(
        "API key environment variable (operators only)", max_length=100, blank=True,
        help_text="Set by operators only: a variable named SCENDCORE_TENANT_… and listed in "
                  "TENANT_SECRET_ENV_NAMES, used when no key is stored.",
    )
    # Merge-field fallbacks, e.g. {"first_name": "there", "company": "your team"}
    fallbacks = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class AgentJob(models.Model):
    """One drafting job per (enrollment, step, pass). Tenant and enrollment lookups use
    the composite indexes below, so their single-column FK indexes are left out. The
    tenant is a copy of the enrollment's: no database constraint (a lookup per row at
    commit); deleting a tenant cascades through Django."""

    tenant = models.ForeignKey(
        "scendcore.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    # Which agent drafted it and for which step is history, nulled through Django when
    # either is deleted: no database constraint (a lookup per row at commit).
    agent = models.ForeignKey(
        Agent, null=True, on_delete=models.SET_NULL, related_name="jobs", db_constraint=False
    )
    enrollment = models.ForeignKey(
        "sequences.Enrollment", on_delete=models.CASCADE, related_name="agent_jobs", db_index=False
    )
    step = models.ForeignKey(
        "sequences.Step", null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    step_pass = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=4)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    provider = models.CharField(max_length=24, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step", "step_pass"], name="one_agent_job_per_step_pass"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["queued", "running"]),
                name="agentjob_pending_idx",
            ),
            models.Index(fields=["tenant", "status"]),
        ]

    def __str__(self):
        return f"job {self.pk} ({self.status})"
