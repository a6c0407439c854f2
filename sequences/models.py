import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class SequenceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    ARCHIVED = "archived", "Archived"


class ReenrollPolicy(models.TextChoices):
    NEVER = "never", "Never"
    ALWAYS = "always", "Always"
    AFTER_DAYS = "after_days", "After a cooldown"


class RejectionPolicy(models.TextChoices):
    SKIP_STEP = "skip_step", "Skip the step and continue"
    PAUSE = "pause", "Pause the enrollment"


class Sequence(models.Model):
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=SequenceStatus.choices, default=SequenceStatus.DRAFT)
    stop_on_reply = models.BooleanField(default=True)
    stop_on_meeting = models.BooleanField(default=True)
    sender_profile = models.ForeignKey(
        "messaging.Mailbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mailbox_pool = models.ForeignKey(
        "messaging.MailboxPool", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Send from a pool of mailboxes instead of one sender profile.",
    )
    agent = models.ForeignKey(
        "agents.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_default = models.BooleanField(default=False)
    reenroll_policy = models.CharField(
        max_length=16, choices=ReenrollPolicy.choices, default=ReenrollPolicy.AFTER_DAYS
    )
    reenroll_after_days = models.PositiveIntegerField(default=30)
    rejection_policy = models.CharField(
        max_length=16, choices=RejectionPolicy.choices, default=RejectionPolicy.SKIP_STEP
    )
    approval_expiry_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Drafts not reviewed in time follow the rejection policy."
    )
    # Trying a sequence out: every email goes to the rep's own address (the enrolling
    # user's, else the owner's) instead of the contact's, and the frequency cap, which
    # would hold a quick run of the steps for days, is not applied.
    test_mode = models.BooleanField(default=False)
    # Auto-enrollment (seed 002 entry rules); evaluated by a periodic task when enabled.
    auto_enroll_enabled = models.BooleanField(default=False)
    entry_rules = models.JSONField(default=dict, blank=True)
    # An edit counter (open pages and the processor can tell the sequence changed); the
    # versions contacts are pinned to are SequenceVersion rows.
    version = models.PositiveIntegerField(default=1)
    # The published version new enrollments enter. Every sequence has one from its
    # creation (services.versions.first_version_create), so the engine never meets one
    # without.
    current_version = models.ForeignKey(
        "SequenceVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="one_default_sequence_per_tenant"
            ),
            # Two sequences a rep cannot tell apart in a picker, whatever the case.
            models.UniqueConstraint("tenant", Lower("name"), name="unique_sequence_name_per_tenant"),
        ]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self):
        return self.name

    def current_nodes(self):
        """The nodes of the published version (what new enrollments walk)."""
        return Step.objects.filter(version_id=self.current_version_id)


class VersionState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class SequenceVersion(models.Model):
    """One version of a sequence's flow: its nodes (Step rows pointing here), its goals
    and its exit rules. An enrollment is pinned to the version it entered and follows
    that version's nodes until a publish moves it with a node map. The published version
    is the sequence's `current_version`; at most one draft is edited at a time; an older
    published version is retired but stays readable while enrollments are on it."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="versions", db_index=False)
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=VersionState.choices, default=VersionState.DRAFT)
    # Sequence-level goals: [{"key", "name", "condition": {...}, "action": "exit"|"move",
    # "sequence": id}], checked when a fact is recorded and before each node.
    goals = models.JSONField(default=list, blank=True)
    # Seed 002's exit rules: {"reply": "exit"|"exit_positive"|"pause"|"off", "conversion":
    # bool, "disqualification": bool, "no_engagement_days": int|null}.
    exit_rules = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sequence", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["sequence", "number"], name="unique_version_number"),
            models.UniqueConstraint(fields=["sequence"], condition=Q(state="draft"), name="one_draft_version"),
        ]

    def __str__(self):
        return f"{self.sequence_id} v{self.number} ({self.state})"


class StepKind(models.TextChoices):
    """What the engine does at this node: each kind is one registered step type
    (sequences.engine.steps). A kind the engine does not know fails the enrollment
    visibly; it never falls back to another kind."""

    MESSAGE = "message", "Message"
    TASK = "task", "Task"
    WAIT = "wait", "Wait"
    BRANCH = "branch", "Branch"
    SPLIT = "split", "A/B split"
    ACTION = "action", "Action"
    EXIT = "exit", "Exit"


class JobType(models.TextChoices):
    INITIAL_OUTREACH = "initial_outreach", "Initial outreach"
    FOLLOW_UP = "follow_up", "Follow-up email"
    RE_ENGAGEMENT = "re_engagement", "Re-engagement"
    TASK = "task", "Task"
    CALL_REMINDER = "call_reminder", "Call reminder"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    TASK = "task", "Task"
    CALL_REMINDER = "call_reminder", "Call reminder"


TASK_CHANNELS = (Channel.TASK, Channel.CALL_REMINDER)


def step_kind_for(channel):
    """The step type a step of this channel runs as: a rep's task or call, else a message."""
    return StepKind.TASK if channel in TASK_CHANNELS else StepKind.MESSAGE


class DelayUnit(models.TextChoices):
    MINUTES = "minutes", "Minutes"
    HOURS = "hours", "Hours"
    DAYS = "days", "Days"


class Step(models.Model):
    """One node of a sequence version's flow. `key` is stable across versions (a kept node
    has the same key in the next version; that is how a publish maps enrollments).
    `edges` are the node's outgoing paths in order: [{"label", "to": key|None, and per
    kind "condition" (branch rules), "weight"/"holdout" (split arms)}]. A node of a kind
    with one way out (message, task, wait, action) and no "next" edge continues with the
    node below it in the outline (the next `order`): a linear sequence needs no edges.
    `to: None` ends the flow there. `config` holds the settings of the node kinds that
    have no columns of their own (wait, branch, split, action, task outcomes)."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+")
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="steps")
    version = models.ForeignKey(SequenceVersion, on_delete=models.CASCADE, related_name="nodes", db_index=False)
    key = models.CharField(max_length=64)
    title = models.CharField(max_length=200, blank=True)
    order = models.PositiveIntegerField(help_text="1..N within the version, gap-free; maintained by the services.")
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.MESSAGE)
    job_type = models.CharField(max_length=24, choices=JobType.choices, default=JobType.INITIAL_OUTREACH)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    delay_value = models.PositiveIntegerField(default=0)
    delay_unit = models.CharField(max_length=8, choices=DelayUnit.choices, default=DelayUnit.DAYS)
    business_days_only = models.BooleanField(default=False)
    # Send window in the recipient's local time; null fields inherit the tenant's.
    window_days = models.JSONField(null=True, blank=True, help_text="weekday numbers, Monday=0")
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    jitter_minutes = models.PositiveIntegerField(default=0, help_text="± random minutes")
    angle = models.CharField(max_length=500, blank=True)
    cta = models.CharField(max_length=500, blank=True)
    value_proposition = models.CharField(max_length=500, blank=True)
    subject_template = models.CharField(max_length=300, blank=True)
    body_template = models.TextField(blank=True)
    requires_human_approval = models.BooleanField(default=False)
    config = models.JSONField(default=dict, blank=True)
    edges = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sequence", "order"]
        indexes = [models.Index(fields=["version", "order"], name="step_version_order_idx")]
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="unique_node_key_per_version")]

    def __str__(self):
        return f"{self.sequence} — step {self.order}"


def new_node_key(kind):
    """A key for a new node, unique in practice; a kept node keeps its key forever."""
    return f"{kind}-{secrets.token_hex(3)}"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    UNENROLLED = "unenrolled", "Unenrolled"
    # Left by the flow itself (a goal, an exit rule, an exit node, a split's holdout),
    # with the reason; unenrolled is a person's doing.
    EXITED = "exited", "Exited"
    FAILED = "failed", "Failed"


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    CRITICAL = 3, "Critical"


class WaitingOn(models.TextChoices):
    """Why an active enrollment with no next_run_at is not moving."""

    NOTHING = "", "—"
    AGENT = "agent", "Agent drafting"
    APPROVAL = "approval", "Waiting for approval"
    TASK = "task", "Waiting for the rep's task"
    DELIVERY = "delivery", "Waiting for delivery"
    # At a wait-for-event node: next_run_at is its timeout; the fact it waits for,
    # when recorded, makes it due at once.
    EVENT = "event", "Waiting for an event"


class Enrollment(models.Model):
    # Every index here is written twice for each step the processor runs (claim, then
    # result): FK indexes covered by another index, or needed only for rare deletes, are
    # left out on purpose. A sequence's rows are found through (tenant, sequence, status)
    # and, when open, the one-open-enrollment constraint; a contact's through the contact
    # index (a contact is one tenant's, so no tenant-first copy of it is kept).
    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE)
    # The version the enrollment entered (and follows: its current step is one of this
    # version's nodes). Null only for rows written before versions existed.
    # RESTRICT: a version enrollments are pinned to is never deleted on its own (deleting
    # the sequence still takes both).
    version = models.ForeignKey(
        SequenceVersion, null=True, blank=True, on_delete=models.RESTRICT, related_name="+", db_index=False
    )
    current_step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # Which visit of a step this is; part of the idempotency key of the work a step
    # creates (enrollment, step, pass). It only grows: every step entered, and every step
    # run again on purpose, is a new pass, so a revisited step gets work of its own.
    step_pass = models.PositiveIntegerField(default=1)
    next_run_at = models.DateTimeField(null=True, blank=True)
    waiting_on = models.CharField(max_length=16, choices=WaitingOn.choices, default="", blank=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    # Lease taken by the sweep: a worker that dies leaves a lease that expires.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=64, blank=True)
    exit_reason = models.CharField(max_length=64, blank=True)
    # Values actions and custom events write and branches read (bounded: flow.context).
    context = models.JSONField(default=dict, blank=True)
    # node key -> times entered; a loop through a waiting node stops at the node's maximum.
    visits = models.JSONField(default=dict, blank=True)
    enrolled_via = models.CharField(max_length=16, default="manual")
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    enrolled_at = models.DateTimeField(default=timezone.now)
    last_step_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sequence", "contact"],
                condition=Q(status__in=["active", "paused"]),
                name="one_open_enrollment_per_sequence_contact",
            )
        ]
        # The processor's claim and lease indexes (partial, priority-ordered) are created
        # by migration 0002_engine_claim_indexes.
        # The enrollment table's order, unfiltered and by status: a page's ids come from an
        # index-only scan (scendcore.paging), as cheap on page 1,000 as on page 1.
        indexes = [
            models.Index(fields=["tenant", "sequence", "-enrolled_at", "-id"], name="enrollment_table_idx"),
            models.Index(fields=["tenant", "sequence", "status", "-enrolled_at", "-id"],
                         name="enrollment_table_status_idx"),
        ]

    def __str__(self):
        return f"{self.contact_id} in {self.sequence_id} ({self.status})"


class ActivityKind(models.TextChoices):
    ENROLLED = "enrolled", "Enrolled"
    AUTO_ENROLLED = "auto_enrolled", "Auto-enrolled"
    STEP_SCHEDULED = "step_scheduled", "Step scheduled"
    STEP_EXECUTED = "step_executed", "Step executed"
    STEP_SKIPPED = "step_skipped", "Step skipped"
    DEFERRED = "deferred", "Deferred"
    WAITING = "waiting", "Waiting"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    EXITED = "exited", "Exited"
    COMPLETED = "completed", "Completed"
    MOVED = "moved", "Moved by a sequence edit"
    FAILED = "failed", "Failed"
    PATH = "path", "Took a path"
    ACTION = "action", "Action"
    GOAL = "goal", "Reached a goal"


class Activity(models.Model):
    """Every state change of an enrollment (DESIGN invariant 6). The largest table:
    FK indexes covered by the composites below are left out.

    Only the enrollment and the acting user are database-level foreign keys. Tenant,
    contact and sequence are copies of the enrollment's own (kept for the timeline
    queries), and the step is history; each database constraint would cost one lookup
    per inserted row at commit, and the processor writes two rows per step. Deleting any
    of them still cascades or nulls through Django, which is the only way this project
    deletes."""

    tenant = models.ForeignKey(
        "scendcore.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    enrollment = models.ForeignKey(
        Enrollment, on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="activities", db_index=False,
        db_constraint=False,
    )
    # A copy of the enrollment's sequence: a deleted sequence takes its enrollments, and
    # they their activity rows (through the enrollment index), so nothing looks rows up
    # by sequence and no index of it is kept.
    sequence = models.ForeignKey(
        Sequence, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    kind = models.CharField(max_length=24, choices=ActivityKind.choices)
    detail = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["enrollment", "-created_at"]),
            # Contact first: the contact's timeline (a contact is one tenant's) and the
            # contact's delete both use it, so no separate contact index is needed.
            models.Index(fields=["contact", "-created_at"]),
            # The dashboard's feed, newest first with the id as tie-break: the index's own
            # order, so the latest rows are read from its start with no sort of the tenant's.
            models.Index(fields=["tenant", "-created_at", "-id"], name="activity_feed_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.detail}"


class EnrollmentTally(models.Model):
    """Enrollment counts by (tenant, user, status), for the dashboard's "my enrollments":
    a user's enrollments are those of contacts they own or that they enrolled, each
    counted once. Rows are signed changes; a figure is the sum of its key's rows.

    Database triggers write every row (migration 0011), so every write to an enrollment
    or to a contact's owner is seen: ORM, bulk, COPY and raw SQL alike. Changes are
    appended, never updated in place, so the processor's concurrent batches never wait
    on one another's counters; `sequences.compact_tallies` folds them back into one row
    per key. No foreign-key constraints: a deleted tenant's or user's enrollments write
    their last (negative) changes while the rows they point at are being deleted."""

    tenant = models.ForeignKey(
        "scendcore.Tenant", on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+", db_index=False,
        db_constraint=False,
    )
    status = models.CharField(max_length=16, choices=EnrollmentStatus.choices)
    delta = models.IntegerField()

    class Meta:
        verbose_name_plural = "enrollment tallies"
        # The dashboard's read: one user's rows, summed by status, from the index alone.
        indexes = [models.Index(fields=["tenant", "user", "status", "delta"], name="enrollment_tally_idx")]

    def __str__(self):
        return f"{self.user_id} {self.status} {self.delta:+d}"


class SequenceTally(models.Model):
    """Enrollment counts by (tenant, sequence, current step, status), for the sequences
    list's figures and the builder's "waiting at this step": signed change rows, summed
    per key, written by the same triggers as EnrollmentTally (migration 0012) and folded
    by the same `sequences.compact_tallies`. No foreign-key constraints, for the same
    reason: a deleted sequence's or step's enrollments write their last changes while
    the rows they point at are being deleted. `step` is the enrollment's current step
    (none before the first or after the last)."""

    tenant = models.ForeignKey(
        "scendcore.Tenant", on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    sequence = models.ForeignKey(
        Sequence, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    step = models.ForeignKey(
        Step, null=True, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    status = models.CharField(max_length=16, choices=EnrollmentStatus.choices)
    delta = models.IntegerField()

    class Meta:
        verbose_name_plural = "sequence tallies"
        # Both reads from the index alone: a page of sequences summed by status, and one
        # sequence's open statuses summed by step.
        indexes = [models.Index(fields=["tenant", "sequence", "status", "step", "delta"], name="sequence_tally_idx")]

    def __str__(self):
        return f"{self.sequence_id}/{self.step_id} {self.status} {self.delta:+d}"


class GoalReached(models.Model):
    """A goal of the sequence reached by an enrollment, with its time: conversion rates
    are these rows over the enrollments of the sequence (or version)."""

    tenant = models.ForeignKey("scendcore.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="+", db_index=False)
    version = models.ForeignKey(SequenceVersion, on_delete=models.CASCADE, related_name="+", db_index=False)
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="goals", db_index=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+", db_index=False)
    goal_key = models.CharField(max_length=64)
    goal_name = models.CharField(max_length=200)
    reached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enrollment", "goal_key"], name="goal_reached_once")]
        indexes = [models.Index(fields=["tenant", "sequence", "goal_key", "reached_at"], name="goal_reached_idx")]

    def __str__(self):
        return f"{self.enrollment_id} reached {self.goal_key}"
