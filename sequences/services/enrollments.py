"""Enrolling contacts in sequences, one at a time or set-based, and the user's pause,
resume and unenroll actions. Every change is a transition of sequences.flow, written for
one enrollment or set-based for many, so every change leaves its activity row."""
import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from contacts import suppression
from scendcore import jobs
from scendcore.bulk import allocate_ids

from ..flow import navigator, single, store, transitions
from ..models import Enrollment, EnrollmentStatus, JobType, ReenrollPolicy, SequenceStatus, StepKind
from .reactions import ENDED_LEADS

OPEN = transitions.OPEN
FINISHED = (EnrollmentStatus.COMPLETED, EnrollmentStatus.UNENROLLED, EnrollmentStatus.EXITED, EnrollmentStatus.FAILED)
BATCH = 2000
CHUNK = 5000  # candidates classified per suppression-list query

SKIP_REASONS = {
    **suppression.LABELS, "reenroll_not_allowed": "re-enrollment not allowed",
    # The processor's first run would end these at once (sequences.engine.execute).
    "converted": "converted lead", "disqualified": "disqualified lead",
    "active_elsewhere": "active in another sequence",
}


class ActiveElsewhere(ValidationError):
    """The contact is active in another sequence: enrolling is allowed, but only once the
    rep has seen that and confirmed (two first-touch intros to one person otherwise)."""

    def __init__(self, contact, sequences):
        self.sequences = sequences
        names = ", ".join(f"“{name}”" for name in sequences)
        super().__init__(f"{contact} is already active in sequence{'s' * (len(sequences) != 1)} {names}.")


def is_first_touch(sequence, first=None):
    """A first-touch sequence opens with an initial-outreach message: enrolling someone
    another sequence is already writing to would send them a second introduction."""
    first = first or navigator.current_graph(sequence).first
    return bool(first) and first.kind == StepKind.MESSAGE and first.job_type == JobType.INITIAL_OUTREACH


def _active_elsewhere(*, tenant, sequence, contact):
    """Names of the other sequences `contact` is active in (paused ones count: they resume)."""
    return list(
        Enrollment.objects.filter(tenant=tenant, contact=contact, status__in=OPEN).exclude(sequence=sequence)
        .order_by("sequence__name").values_list("sequence__name", flat=True)
    )


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
    first = navigator.current_graph(sequence).first
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


def enrollment_create(*, tenant, sequence, contact, actor, via="manual", at=None, allow_active_elsewhere=False):
    """Enroll one contact; raises ValidationError with a message a user can read, and
    ActiveElsewhere (a ValidationError) for a contact active in another sequence unless
    `allow_active_elsewhere` says the rep saw that and confirmed."""
    at = at or timezone.now()
    first = _check_sequence(tenant=tenant, sequence=sequence)
    if contact.tenant_id != tenant.pk:
        raise ValidationError("That contact does not exist.")
    reason = suppression.suppression_reason(contact)
    if reason:
        raise ValidationError(f"{contact} is {SKIP_REASONS[reason]}: not enrolled.")
    if contact.lead_status in ENDED_LEADS:
        raise ValidationError(f"{contact} is a {SKIP_REASONS[contact.lead_status]}: not enrolled.")
    with transaction.atomic():
        if Enrollment.objects.filter(sequence=sequence, contact=contact, status__in=OPEN).exists():
            raise ValidationError(f"{contact} is already enrolled in “{sequence.name}”.")
        if not allow_active_elsewhere:
            elsewhere = _active_elsewhere(tenant=tenant, sequence=sequence, contact=contact)
            if elsewhere:
                raise ActiveElsewhere(contact, elsewhere)
        last = Enrollment.objects.filter(sequence=sequence, contact=contact, status__in=FINISHED).aggregate(
            last=Max("finished_at"))["last"]
        refusal = _reenroll_refusal(sequence, last, at)
        if refusal:
            raise ValidationError(f"{contact} cannot be enrolled again: {refusal}.")
        enrollment = Enrollment(pk=allocate_ids(Enrollment, 1)[0], tenant=tenant, sequence=sequence,
                                contact=contact, enrolled_by=actor, updated_at=at)
        rows = transitions.enroll(enrollment, first, at=at, actor=actor, via=via)
        try:
            with transaction.atomic():  # savepoint: a concurrent enrollment hits the constraint
                enrollment.save(force_insert=True)
        except IntegrityError:
            raise ValidationError(f"{contact} is already enrolled in “{sequence.name}”.") from None
        single.apply(enrollment, rows, at=at)
    return enrollment


def _contact_rows(*, tenant, sequence, contact_ids, elsewhere=False):
    from contacts.models import Contact

    open_here = Enrollment.objects.filter(tenant=tenant, sequence=sequence, contact=OuterRef("pk"), status__in=OPEN)
    # Asked only when it decides something: one more index probe per candidate.
    open_elsewhere = Enrollment.objects.filter(tenant=tenant, contact=OuterRef("pk"), status__in=OPEN).exclude(
        sequence=sequence) if elsewhere else Enrollment.objects.none()
    return (
        Contact.objects.filter(tenant=tenant, pk__in=contact_ids)
        .annotate(has_open=Exists(open_here), last_finished=Subquery(_last_finished(sequence, OuterRef("pk"))),
                  active_elsewhere=Exists(open_elsewhere))
        .only("id", "tenant_id", "email", "timezone", "do_not_contact", "unsubscribed_at", "bounced_at",
              "lead_status")
        .order_by()
    )


def enrollments_bulk_create(*, tenant, sequence, contact_ids, actor, via="bulk", at=None,
                            skip_active_elsewhere=None):
    """Set-based enrollment. `contact_ids` may be a list or a queryset of ids; ids outside
    the tenant are ignored. One query classifies every candidate; enrollments and their
    activity rows are written set-based, ON CONFLICT DO NOTHING guarding against a
    concurrent enrollment of the same contact. Contacts active in another sequence are
    skipped when `skip_active_elsewhere`, which by default is on for first-touch sequences."""
    at = at or timezone.now()
    first = _check_sequence(tenant=tenant, sequence=sequence)
    if skip_active_elsewhere is None:
        skip_active_elsewhere = is_first_touch(sequence, first)
    sequence.tenant = tenant
    if not isinstance(contact_ids, QuerySet):
        contact_ids = list({int(pk) for pk in contact_ids})
    result = EnrollResult()
    candidates = []
    rows = _contact_rows(tenant=tenant, sequence=sequence, contact_ids=contact_ids,
                         elsewhere=skip_active_elsewhere).iterator(chunk_size=CHUNK)
    for chunk in iter(lambda: list(itertools.islice(rows, CHUNK)), []):
        suppressed = suppression.suppression_reasons(c for c in chunk if not c.has_open)
        for contact in chunk:
            if contact.has_open:
                result.already_enrolled += 1
                continue
            reason = suppressed.get(contact.pk)
            if reason is None and contact.lead_status in ENDED_LEADS:
                reason = contact.lead_status
            if reason is None and _reenroll_refusal(sequence, contact.last_finished, at):
                reason = "reenroll_not_allowed"
            if reason is None and skip_active_elsewhere and contact.active_elsewhere:
                reason = "active_elsewhere"
            if reason:
                result.skipped[reason] += 1
                continue
            candidates.append(contact)
    if not candidates:
        return result
    with transaction.atomic():
        ids = allocate_ids(Enrollment, len(candidates))
        enrollments, rows, schedule = [], [], transitions.shared_schedule()
        for pk, contact in zip(ids, candidates):
            e = Enrollment(pk=pk, tenant=tenant, sequence=sequence, contact=contact, enrolled_by=actor,
                           updated_at=at)
            rows += transitions.enroll(e, first, at=at, actor=actor, via=via, schedule=schedule)
            enrollments.append(e)
        Enrollment.objects.bulk_create(enrollments, batch_size=BATCH, ignore_conflicts=True)
        # A concurrent enrollment of the same contact won the constraint: its row was not
        # inserted, and neither are its activity rows.
        inserted = set(Enrollment.objects.filter(pk__in=ids).values_list("pk", flat=True))
        store.activities_write(row for row in rows if row[1] in inserted)
        result.enrolled = len(inserted)
        result.already_enrolled += len(candidates) - len(inserted)
        if any(e.next_run_at <= timezone.now() for e in enrollments if e.pk in inserted):
            jobs.start("sequences.sweep")
    return result


# --- pause / resume / unenroll --------------------------------------------------------

PAUSED_BY_USER = "paused by user"
UNENROLLED_BY_USER = "unenrolled by user"


def _locked(tenant, enrollment):
    if enrollment.tenant_id != tenant.pk:
        raise ValidationError("That enrollment does not exist.")
    return store.locked(enrollment.pk, tenant_id=tenant.pk)


def _one(tenant, enrollment, change):
    """Lock the enrollment, apply `change(row, at)` (a transition) and write it."""
    row = _locked(tenant, enrollment)
    at = timezone.now()
    try:
        rows = change(row, at)
    except transitions.Refused as refused:
        raise ValidationError(str(refused)) from None
    return single.apply(row, rows, at=at)


@transaction.atomic
def enrollment_pause(*, tenant, enrollment, actor):
    return _one(tenant, enrollment, lambda row, at: transitions.pause(row, PAUSED_BY_USER, at=at, actor=actor))


@transaction.atomic
def enrollment_resume(*, tenant, enrollment, actor):
    return _one(tenant, enrollment, lambda row, at: transitions.resume(row, at=at, actor=actor))


@transaction.atomic
def enrollment_unenroll(*, tenant, enrollment, actor):
    from .reactions import pending_work_cancel

    row = _one(tenant, enrollment, lambda row, at: transitions.exit(row, UNENROLLED_BY_USER, at=at, actor=actor))
    pending_work_cancel(tenant=tenant, enrollment_ids=[row.pk], reason=UNENROLLED_BY_USER, at=row.finished_at,
                        skip_tasks=True)
    return row


def _many(*, tenant, enrollment_ids, status, change, at):
    """Lock the enrollments of `enrollment_ids` in one of `status` (others, and other
    tenants', are ignored), apply `change(row)` to each and write them set-based."""
    rows = store.locked_many(tenant=tenant, enrollment_ids=enrollment_ids, status=status)
    activities = []
    for row in rows:
        activities += change(row)
    store.save_batch(rows, activities, at=at)
    return rows


@transaction.atomic
def enrollments_bulk_pause(*, tenant, enrollment_ids, actor, at=None):
    """Pause the active ones among `enrollment_ids`."""
    at = at or timezone.now()
    rows = _many(tenant=tenant, enrollment_ids=enrollment_ids, status=[EnrollmentStatus.ACTIVE], at=at,
                 change=lambda row: transitions.pause(row, PAUSED_BY_USER, at=at, actor=actor))
    return len(rows)


@transaction.atomic
def enrollments_bulk_resume(*, tenant, enrollment_ids, actor, at=None):
    """Resume the paused ones; a step that fell due while paused is due now."""
    at = at or timezone.now()
    rows = _many(tenant=tenant, enrollment_ids=enrollment_ids, status=[EnrollmentStatus.PAUSED], at=at,
                 change=lambda row: transitions.resume(row, at=at, actor=actor))
    if any(e.next_run_at and e.next_run_at <= at for e in rows):
        jobs.start("sequences.sweep")
    return len(rows)


@transaction.atomic
def enrollments_bulk_unenroll(*, tenant, enrollment_ids, actor, at=None):
    from .reactions import pending_work_cancel

    at = at or timezone.now()
    rows = _many(tenant=tenant, enrollment_ids=enrollment_ids, status=list(OPEN), at=at,
                 change=lambda row: transitions.exit(row, UNENROLLED_BY_USER, at=at, actor=actor))
    ids = [e.pk for e in rows]
    if ids:
        pending_work_cancel(tenant=tenant, enrollment_ids=ids, reason=UNENROLLED_BY_USER, at=at, skip_tasks=True)
    return len(ids)


@transaction.atomic
def enrollment_retry(*, tenant, enrollment, actor):
    """A failed enrollment runs the node it failed on again: active, a new pass (its own
    idempotency key), due now; recorded and audited."""
    from scendcore.audit import audit_record

    row = _one(tenant, enrollment, lambda row, at: transitions.retry(row, at=at, actor=actor))
    audit_record(tenant=tenant, actor=actor, object_type="enrollment", object_id=row.pk, action="retried",
                 changes={"status": [EnrollmentStatus.FAILED, EnrollmentStatus.ACTIVE]})
    return row


@transaction.atomic
def enrollment_set_priority(*, tenant, enrollment, priority, actor):
    """Priority orders the processor's claim when more is due than fits one batch."""
    from scendcore.models import AuditEntry

    from ..models import Priority

    if priority not in Priority.values:
        raise ValidationError({"priority": "Choose low, normal, high or critical."})
    row = store.locked(enrollment.pk, tenant_id=tenant.pk)
    if row.priority != priority:
        AuditEntry.objects.create(
            tenant=tenant, actor=actor, object_type="enrollment", object_id=str(row.pk),
            action="priority_changed", changes={"priority": [row.priority, priority]},
        )
        row.priority = priority
        row.save(update_fields=["priority", "updated_at"])
    return row
