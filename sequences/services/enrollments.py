"""Enrolling contacts in sequences, one at a time or set-based, and the user's pause,
resume and unenroll actions. State changes go through sequences.lifecycle (single) or
update + bulk Activity rows (bulk), so every change leaves an activity row."""
import itertools
import json
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from contacts import suppression

from .. import lifecycle
from ..models import (
    Activity,
    ActivityKind,
    Enrollment,
    EnrollmentStatus,
    ReenrollPolicy,
    SequenceStatus,
    Step,
    WaitingOn,
)
from ..scheduling import next_run_at

OPEN = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
FINISHED = (EnrollmentStatus.COMPLETED, EnrollmentStatus.UNENROLLED)
BATCH = 2000
CHUNK = 5000  # candidates classified per suppression-list query

SKIP_REASONS = {**suppression.LABELS, "reenroll_not_allowed": "re-enrollment not allowed"}


@dataclass
class EnrollResult:
    enrolled: int = 0
    already_enrolled: int = 0
    skipped: dict = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))

    @property
    def skipped_total(self):
        return sum(self.skipped.values())

    @property
    def skipped_reasons(self):
        """[(label, count)] for the reasons that occurred, for display."""
        return [(SKIP_REASONS[key], n) for key, n in self.skipped.items() if n]

    def summary(self):
        text = f"Enrolled {self.enrolled}, already enrolled {self.already_enrolled}, skipped {self.skipped_total}"
        if self.skipped_total:
            text += " (" + ", ".join(f"{label} {n}" for label, n in self.skipped_reasons) + ")"
        return text + "."


def _check_sequence(*, tenant, sequence):
    if sequence.tenant_id != tenant.pk:
        raise ValidationError("That sequence does not exist.")
    if sequence.status not in (SequenceStatus.ACTIVE, SequenceStatus.PAUSED):
        raise ValidationError(
            f"“{sequence.name}” is {sequence.get_status_display().lower()}: only active or paused "
            "sequences accept enrollments."
        )
    first = Step.objects.filter(sequence=sequence).order_by("order").first()
    if first is None:
        raise ValidationError(f"“{sequence.name}” has no steps yet.")
    return first


def _reenroll_refusal(sequence, last_finished_at, at):
    """Why a contact whose last enrollment finished at `last_finished_at` may not come back."""
    if last_finished_at is None or sequence.reenroll_policy == ReenrollPolicy.ALWAYS:
        return None
    if sequence.reenroll_policy == ReenrollPolicy.NEVER:
        return "this sequence does not allow re-enrollment"
    allowed_from = last_finished_at + timedelta(days=sequence.reenroll_after_days)
    if at < allowed_from:
        return f"re-enrollment is allowed from {allowed_from:%Y-%m-%d} ({sequence.reenroll_after_days}-day cooldown)"
    return None


def _last_finished(sequence, contact_ref):
    # tenant in the filter lets PostgreSQL use the (tenant, contact, status) index.
    return (
        Enrollment.objects.filter(tenant_id=sequence.tenant_id, contact=contact_ref, sequence=sequence,
                                  status__in=FINISHED)
        .order_by()
        .values("contact")
        .annotate(last=Max("finished_at"))
        .values("last")
    )


def _kind_for(via):
    return ActivityKind.AUTO_ENROLLED if via == "auto" else ActivityKind.ENROLLED


def enrollment_create(*, tenant, sequence, contact, actor, via="manual", at=None):
    """Enroll one contact; raises ValidationError with a message a user can read."""
    at = at or timezone.now()
    first = _check_sequence(tenant=tenant, sequence=sequence)
    if contact.tenant_id != tenant.pk:
        raise ValidationError("That contact does not exist.")
    reason = suppression.suppression_reason(contact)
    if reason:
        raise ValidationError(f"{contact} is {SKIP_REASONS[reason]}: not enrolled.")
    with transaction.atomic():
        if Enrollment.objects.filter(sequence=sequence, contact=contact, status__in=OPEN).exists():
            raise ValidationError(f"{contact} is already enrolled in “{sequence.name}”.")
        last = Enrollment.objects.filter(sequence=sequence, contact=contact, status__in=FINISHED).aggregate(
            last=Max("finished_at"))["last"]
        refusal = _reenroll_refusal(sequence, last, at)
        if refusal:
            raise ValidationError(f"{contact} cannot be enrolled again: {refusal}.")
        try:
            with transaction.atomic():  # savepoint: a concurrent enrollment hits the constraint
                enrollment = Enrollment.objects.create(
                    tenant=tenant, sequence=sequence, contact=contact, status=EnrollmentStatus.ACTIVE,
                    enrolled_via=via, enrolled_by=actor, enrolled_at=at,
                )
        except IntegrityError:
            raise ValidationError(f"{contact} is already enrolled in “{sequence.name}”.") from None
        lifecycle.activity_record(
            enrollment=enrollment, kind=_kind_for(via), actor=actor, at=at,
            detail=f"Enrolled in {sequence.name}" + (" by entry rules" if via == "auto" else ""),
            data={"via": via},
        )
        lifecycle.schedule_step(enrollment=enrollment, step=first, after=at, actor=actor)
        if enrollment.next_run_at <= timezone.now():
            lifecycle.kick_processor()
    return enrollment


def _contact_rows(*, tenant, sequence, contact_ids):
    from contacts.models import Contact

    open_here = Enrollment.objects.filter(tenant=tenant, sequence=sequence, contact=OuterRef("pk"), status__in=OPEN)
    return (
        Contact.objects.filter(tenant=tenant, pk__in=contact_ids)
        .annotate(has_open=Exists(open_here), last_finished=Subquery(_last_finished(sequence, OuterRef("pk"))))
        .only("id", "tenant_id", "email", "timezone", "do_not_contact", "unsubscribed_at", "bounced_at")
        .order_by()
    )


def enrollments_bulk_create(*, tenant, sequence, contact_ids, actor, via="bulk", at=None):
    """Set-based enrollment. `contact_ids` may be a list or a queryset of ids; ids outside
    the tenant are ignored. One query classifies every candidate; enrollments and their
    activity rows are bulk-inserted, ON CONFLICT DO NOTHING guarding against a
    concurrent enrollment of the same contact."""
    at = at or timezone.now()
    first = _check_sequence(tenant=tenant, sequence=sequence)
    if not isinstance(contact_ids, QuerySet):
        contact_ids = list({int(pk) for pk in contact_ids})
    result = EnrollResult()
    candidates = {}
    rows = _contact_rows(tenant=tenant, sequence=sequence, contact_ids=contact_ids).iterator(chunk_size=CHUNK)
    for chunk in iter(lambda: list(itertools.islice(rows, CHUNK)), []):
        suppressed = suppression.suppression_reasons(c for c in chunk if not c.has_open)
        for contact in chunk:
            if contact.has_open:
                result.already_enrolled += 1
                continue
            reason = suppressed.get(contact.pk)
            if reason is None and _reenroll_refusal(sequence, contact.last_finished, at):
                reason = "reenroll_not_allowed"
            if reason:
                result.skipped[reason] += 1
                continue
            candidates[contact.pk] = contact
    if not candidates:
        return result
    with transaction.atomic():
        Enrollment.objects.bulk_create(
            [
                Enrollment(
                    tenant_id=tenant.pk, sequence_id=sequence.pk, contact_id=pk, status=EnrollmentStatus.ACTIVE,
                    current_step=first, enrolled_via=via, enrolled_by=actor, enrolled_at=at, updated_at=at,
                    next_run_at=next_run_at(
                        step=first, after=at, contact=contact, tenant=tenant, seed=f"{sequence.pk}:{pk}:{first.pk}"
                    ),
                )
                for pk, contact in candidates.items()
            ],
            batch_size=BATCH, ignore_conflicts=True,
        )
        # Rows we inserted carry our exact enrolled_at; a concurrent duplicate did not insert.
        inserted = list(
            Enrollment.objects.filter(
                sequence=sequence, contact_id__in=list(candidates), enrolled_at=at, status=EnrollmentStatus.ACTIVE
            ).only("id", "tenant_id", "sequence_id", "contact_id", "next_run_at")
        )
        result.enrolled = len(inserted)
        result.already_enrolled += len(candidates) - len(inserted)
        _insert_activities(inserted, sequence, first, actor, via, at)
        if any(e.next_run_at <= timezone.now() for e in inserted):
            lifecycle.kick_processor()
    return result


def _enroll_label(sequence, via):
    return (f"Enrolled in {sequence.name}" + (" by entry rules" if via == "auto" else ""))[:300]


def _step_label(step):
    return f"Step {step.order} ({step.get_channel_display()}) due "


def _insert_activities(enrollments, sequence, step, actor, via, at):
    """The "enrolled" and "step_scheduled" rows of freshly inserted enrollments. On
    PostgreSQL two INSERT … SELECT statements (the rows never travel through Python);
    elsewhere bulk_create."""
    if connection.vendor != "postgresql":
        Activity.objects.bulk_create(_enroll_activities(enrollments, sequence, step, actor, via, at), batch_size=BATCH)
        return
    table, source = Activity._meta.db_table, Enrollment._meta.db_table
    ids = [e.pk for e in enrollments]
    actor_id = getattr(actor, "pk", None)
    columns = "tenant_id, enrollment_id, contact_id, sequence_id, step_id, kind, detail, data, actor_id, created_at"
    due = "to_char(e.next_run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT e.tenant_id, e.id, e.contact_id, e.sequence_id, NULL, %s, %s, "
            f"%s::jsonb, %s, %s FROM {source} e WHERE e.id = ANY(%s) ORDER BY e.id",
            [_kind_for(via), _enroll_label(sequence, via), json.dumps({"via": via}), actor_id, at, ids],
        )
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT e.tenant_id, e.id, e.contact_id, e.sequence_id, %s, %s, "
            f"left(%s || {due} || ' UTC', 300), "
            "jsonb_build_object('next_run_at', to_char(e.next_run_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')), "
            f"%s, %s FROM {source} e WHERE e.id = ANY(%s) ORDER BY e.id",
            [step.pk, ActivityKind.STEP_SCHEDULED, _step_label(step), actor_id, at, ids],
        )


def _enroll_activities(enrollments, sequence, step, actor, via, at):
    label = _enroll_label(sequence, via)
    for e in enrollments:
        yield lifecycle.activity_build(enrollment=e, kind=_kind_for(via), detail=label, actor=actor, at=at,
                                       data={"via": via})
        yield lifecycle.activity_build(
            enrollment=e, kind=ActivityKind.STEP_SCHEDULED, step=step, actor=actor, at=at,
            detail=f"{_step_label(step)}{e.next_run_at:%Y-%m-%d %H:%M} UTC",
            data={"next_run_at": e.next_run_at.isoformat()},
        )


# --- pause / resume / unenroll --------------------------------------------------------

PAUSED_BY_USER = "paused by user"
UNENROLLED_BY_USER = "unenrolled by user"


def _locked(tenant, enrollment):
    if enrollment.tenant_id != tenant.pk:
        raise ValidationError("That enrollment does not exist.")
    return lifecycle.locked(enrollment.pk, tenant_id=tenant.pk)


@transaction.atomic
def enrollment_pause(*, tenant, enrollment, actor):
    row = _locked(tenant, enrollment)
    if not lifecycle.pause(enrollment=row, reason=PAUSED_BY_USER, actor=actor):
        raise ValidationError(f"Only an active enrollment can be paused (this one is {row.get_status_display().lower()}).")
    return row


@transaction.atomic
def enrollment_resume(*, tenant, enrollment, actor):
    row = _locked(tenant, enrollment)
    if not lifecycle.resume(enrollment=row, actor=actor):
        raise ValidationError(f"Only a paused enrollment can be resumed (this one is {row.get_status_display().lower()}).")
    if row.next_run_at and row.next_run_at <= timezone.now():
        lifecycle.kick_processor()
    return row


@transaction.atomic
def enrollment_unenroll(*, tenant, enrollment, actor):
    from .reactions import pending_work_cancel

    row = _locked(tenant, enrollment)
    at = timezone.now()
    if not lifecycle.exit_enrollment(enrollment=row, reason=UNENROLLED_BY_USER, actor=actor, at=at):
        raise ValidationError("This enrollment has already finished.")
    pending_work_cancel(tenant=tenant, enrollment_ids=[row.pk], reason=UNENROLLED_BY_USER, at=at, skip_tasks=True)
    return row


def _lock_many(*, tenant, enrollment_ids, status):
    return list(
        Enrollment.objects.select_for_update()
        .filter(tenant=tenant, pk__in=enrollment_ids, status__in=status)
        .order_by("pk")
    )


@transaction.atomic
def enrollments_bulk_pause(*, tenant, enrollment_ids, actor, at=None):
    """Pause the active ones among `enrollment_ids` (others, and other tenants', ignored)."""
    at = at or timezone.now()
    rows = _lock_many(tenant=tenant, enrollment_ids=enrollment_ids, status=[EnrollmentStatus.ACTIVE])
    Enrollment.objects.filter(pk__in=[e.pk for e in rows]).update(
        status=EnrollmentStatus.PAUSED, pause_reason=PAUSED_BY_USER, lease_owner="", lease_expires_at=None,
        updated_at=at,
    )
    Activity.objects.bulk_create(
        lifecycle.activity_build(enrollment=e, kind=ActivityKind.PAUSED, detail=PAUSED_BY_USER, actor=actor, at=at)
        for e in rows
    )
    return len(rows)


@transaction.atomic
def enrollments_bulk_resume(*, tenant, enrollment_ids, actor, at=None):
    """Resume the paused ones; a step that fell due while paused is due now (lifecycle.resume)."""
    at = at or timezone.now()
    rows = _lock_many(tenant=tenant, enrollment_ids=enrollment_ids, status=[EnrollmentStatus.PAUSED])
    # One set-based UPDATE (not bulk_update's per-row CASE): the rule of lifecycle.resume,
    # as SQL for the table and in Python for the rows kept for activities and the kick.
    overdue = Q(waiting_on=WaitingOn.NOTHING, current_step__isnull=False) & (
        Q(next_run_at__isnull=True) | Q(next_run_at__lt=at))
    Enrollment.objects.filter(pk__in=[e.pk for e in rows]).update(
        status=EnrollmentStatus.ACTIVE, pause_reason="", updated_at=at,
        next_run_at=Case(When(overdue, then=Value(at)), default=F("next_run_at")),
    )
    for e in rows:
        if e.waiting_on == WaitingOn.NOTHING and e.current_step_id and (e.next_run_at is None or e.next_run_at < at):
            e.next_run_at = at
    Activity.objects.bulk_create(
        lifecycle.activity_build(enrollment=e, kind=ActivityKind.RESUMED, actor=actor, at=at) for e in rows
    )
    if any(e.next_run_at and e.next_run_at <= at for e in rows):
        lifecycle.kick_processor()
    return len(rows)


@transaction.atomic
def enrollments_bulk_unenroll(*, tenant, enrollment_ids, actor, at=None):
    from .reactions import pending_work_cancel

    at = at or timezone.now()
    rows = _lock_many(tenant=tenant, enrollment_ids=enrollment_ids, status=list(OPEN))
    ids = [e.pk for e in rows]
    Enrollment.objects.filter(pk__in=ids).update(
        status=EnrollmentStatus.UNENROLLED, exit_reason=UNENROLLED_BY_USER, next_run_at=None,
        waiting_on=WaitingOn.NOTHING, finished_at=at, lease_owner="", lease_expires_at=None, updated_at=at,
    )
    Activity.objects.bulk_create(
        lifecycle.activity_build(enrollment=e, kind=ActivityKind.EXITED, detail=UNENROLLED_BY_USER, actor=actor, at=at)
        for e in rows
    )
    if ids:
        pending_work_cancel(tenant=tenant, enrollment_ids=ids, reason=UNENROLLED_BY_USER, at=at, skip_tasks=True)
    return len(ids)


@transaction.atomic
def enrollment_set_priority(*, tenant, enrollment, priority, actor):
    """Priority orders the processor's claim when more is due than fits one batch."""
    from scendcore.models import AuditEntry

    from ..models import Priority

    if priority not in Priority.values:
        raise ValidationError({"priority": "Choose low, normal, high or critical."})
    row = lifecycle.locked(enrollment.pk, tenant_id=tenant.pk)
    if row.priority != priority:
        AuditEntry.objects.create(
            tenant=tenant, actor=actor, object_type="enrollment", object_id=str(row.pk),
            action="priority_changed", changes={"priority": [row.priority, priority]},
        )
        row.priority = priority
        row.save(update_fields=["priority", "updated_at"])
    return row
