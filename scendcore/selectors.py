"""Reads for the dashboard. Every figure is one query, whatever the amount of data,
so the page costs a fixed number of queries (see the dashboard tests)."""
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.db.models import Count, Min
from django.utils import timezone

from approvals.models import ApprovalRequest, ApprovalStatus
from messaging.models import Task, TaskStatus
from sequences.models import Activity, EnrollmentStatus, Sequence, SequenceStatus
from sequences.selectors import enrollment_tallies
from sequences.scheduling import contact_zone

from .zones import zone_named

RECENT_ACTIVITY = 12
TASKS_SHOWN = 6
DASHBOARD_STATUSES = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PAUSED.value, EnrollmentStatus.COMPLETED.value)


@dataclass
class Dashboard:
    enrollments: dict
    sequences_by_status: list
    approvals: dict | None
    tasks_due: list
    tasks_due_count: int
    activity: list = field(default_factory=list)


def end_of_today(*, tenant, now=None, membership=None):
    """Midnight at the end of the current day, as an aware datetime: the member's day
    (their own zone, else the workspace's) when a member is given, else the tenant's."""
    if membership is not None:  # the tenant at hand: no query for membership.tenant
        zone = zone_named(membership.timezone, tenant.default_timezone)
    else:
        zone = contact_zone(None, tenant)
    local = (now or timezone.now()).astimezone(zone)
    return datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)


def my_enrollment_counts(*, tenant, user):
    """Enrollments of contacts the user owns or that the user enrolled, by status: from
    the tallies triggers keep (sequences.models.EnrollmentTally), not a scan per visit."""
    counts = enrollment_tallies(tenant=tenant, user=user)
    return {status: counts.get(status, 0) for status in DASHBOARD_STATUSES}


def sequences_by_status(*, tenant):
    """[(status value, label, count)] for every status, zeros included, in lifecycle order."""
    counts = dict(
        Sequence.objects.filter(tenant=tenant).values_list("status").annotate(n=Count("id")).order_by()
    )
    return [(value, label, counts.get(value, 0)) for value, label in SequenceStatus.choices]


def pending_approvals(*, tenant, membership):
    """Count and age of pending drafts the member may decide; None for reps who may not."""
    if not (membership.is_manager or tenant.reps_can_approve):
        return None
    pending = ApprovalRequest.objects.filter(tenant=tenant, status=ApprovalStatus.PENDING)
    if not membership.is_manager:
        pending = pending.filter(message__contact__owner_id=membership.user_id)
    # COUNT(*), not COUNT(id): (tenant, status, created_at) then answers it from the index alone.
    return pending.aggregate(count=Count("*"), oldest=Min("created_at"))


def my_open_tasks_due(*, tenant, user, now=None, membership=None):
    """Open tasks of the user due by the end of their today, overdue first."""
    return Task.objects.filter(
        tenant=tenant, owner=user, status=TaskStatus.OPEN,
        due_at__lt=end_of_today(tenant=tenant, now=now, membership=membership),
    )


def recent_activity(*, tenant, membership, limit=RECENT_ACTIVITY):
    """Latest enrollment activity: the whole team for managers, own contacts for reps."""
    rows = Activity.objects.filter(tenant=tenant)
    if not membership.is_manager:
        rows = rows.filter(contact__owner_id=membership.user_id)
    return list(
        rows.select_related("contact", "sequence", "step", "actor").order_by("-created_at", "-id")[:limit]
    )


def dashboard_for(*, tenant, membership, user, now=None):
    tasks = my_open_tasks_due(tenant=tenant, user=user, now=now, membership=membership)
    return Dashboard(
        enrollments=my_enrollment_counts(tenant=tenant, user=user),
        sequences_by_status=sequences_by_status(tenant=tenant),
        approvals=pending_approvals(tenant=tenant, membership=membership),
        tasks_due=list(tasks.select_related("contact").order_by("due_at", "id")[:TASKS_SHOWN]),
        tasks_due_count=tasks.count(),
        activity=recent_activity(tenant=tenant, membership=membership),
    )
