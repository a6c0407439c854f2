from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalRequest
from messaging.models import OutboundMessage, Task
from scendcore import selectors
from sequences.models import Activity
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

_n = iter(range(1, 10_000))


def _task(tenant, owner, contact, due, status="open"):
    return Task.objects.create(
        tenant=tenant, idempotency_key=f"dash-task-{next(_n)}", owner=owner, contact=contact,
        title=f"Call {contact.first_name}", due_at=due, status=status,
    )


def _pending_approval(tenant, enrollment):
    message = OutboundMessage.objects.create(
        tenant=tenant, idempotency_key=f"dash-msg-{next(_n)}", enrollment=enrollment, contact=enrollment.contact,
        to_address=enrollment.contact.email, state="pending_approval",
    )
    return ApprovalRequest.objects.create(tenant=tenant, message=message, enrollment=enrollment)


def _world(tenant, rep, manager, scale=1):
    """Enrollments, tasks, approvals and activity for the rep, the manager and the team."""
    sequence = SequenceFactory(tenant=tenant, status="active")
    step = StepFactory(sequence=sequence)
    for _ in range(scale):
        mine = ContactFactory(tenant=tenant, owner=rep)
        theirs = ContactFactory(tenant=tenant, owner=manager)
        active = EnrollmentFactory(sequence=sequence, contact=mine, status="active")
        EnrollmentFactory(sequence=SequenceFactory(tenant=tenant, status="paused"), contact=mine, status="paused")
        EnrollmentFactory(sequence=sequence, contact=theirs, status="active")
        _task(tenant, rep, mine, timezone.now() - timedelta(hours=1))
        _task(tenant, rep, mine, timezone.now() + timedelta(days=3))
        _task(tenant, manager, theirs, timezone.now())
        _pending_approval(tenant, active)
        Activity.objects.create(tenant=tenant, enrollment=active, contact=mine, sequence=sequence, step=step,
                                kind="step_executed", detail="Email sent")
    return sequence


def test_the_rep_sees_their_own_figures(rep_client, tenant, rep, manager, other_tenant, outsider):
    _world(tenant, rep, manager, scale=2)
    _world(other_tenant, outsider, outsider, scale=3)  # never counted

    board = rep_client.get(reverse("dashboard")).context["board"]
    assert board.enrollments == {"active": 2, "paused": 2, "completed": 0}
    assert board.tasks_due_count == 2  # overdue ones count; next week's do not
    assert dict((v, n) for v, _, n in board.sequences_by_status) == {
        "draft": 0, "active": 1, "paused": 2, "archived": 0
    }
    assert board.approvals is None  # reps do not review unless the tenant allows it
    assert len(board.activity) == 2


def test_a_manager_sees_the_approval_queue_and_team_activity(manager_client, tenant, rep, manager):
    _world(tenant, rep, manager, scale=3)
    response = manager_client.get(reverse("dashboard"))
    board = response.context["board"]
    assert board.approvals["count"] == 3
    assert board.tasks_due_count == 3
    assert len(board.activity) == 3
    assert 'id="pending-approvals"' in response.content.decode()


def test_reps_see_their_own_pending_drafts_when_the_tenant_lets_them_approve(rep_client, tenant, rep, manager):
    tenant.reps_can_approve = True
    tenant.save()
    _world(tenant, rep, manager, scale=2)
    board = rep_client.get(reverse("dashboard")).context["board"]
    assert board.approvals["count"] == 2


def test_contact_names_in_recent_activity_are_escaped(rep_client, tenant, rep, manager):
    _world(tenant, rep, manager)
    contact = Activity.objects.get(tenant=tenant).contact
    contact.first_name = "<script>alert(1)</script>"
    contact.save()
    html = rep_client.get(reverse("dashboard")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_dashboard_selector_costs_six_queries(django_assert_num_queries, tenant, rep, manager):
    _world(tenant, rep, manager, scale=2)
    membership = manager.memberships.get()
    with django_assert_num_queries(6):
        selectors.dashboard_for(tenant=tenant, membership=membership, user=manager)


def test_the_dashboard_page_costs_the_same_queries_with_ten_times_the_data(manager_client, tenant, rep, manager):
    _world(tenant, rep, manager, scale=1)
    with CaptureQueriesContext(connection) as small:
        assert manager_client.get(reverse("dashboard")).status_code == 200
    _world(tenant, rep, manager, scale=10)
    with CaptureQueriesContext(connection) as large:
        assert manager_client.get(reverse("dashboard")).status_code == 200
    assert len(large) == len(small)


def test_end_of_today_follows_the_tenants_timezone(tenant):
    # 03:30 UTC is still the previous evening in New York.
    at = datetime(2025, 3, 4, 3, 30, tzinfo=dt_timezone.utc)
    end = selectors.end_of_today(tenant=tenant, now=at)
    assert end.astimezone(dt_timezone.utc) == datetime(2025, 3, 4, 5, 0, tzinfo=dt_timezone.utc)


def test_due_today_ends_at_midnight_in_the_viewers_own_zone(tenant, manager):
    from scendcore.models import Membership

    membership = Membership.objects.get(tenant=tenant, user=manager)
    membership.timezone = "Asia/Tokyo"
    membership.save()
    # 16:30 UTC: already the next morning in Tokyo, still the afternoon in New York.
    at = datetime(2025, 3, 4, 16, 30, tzinfo=dt_timezone.utc)

    end = selectors.end_of_today(tenant=tenant, now=at, membership=membership)

    assert end.astimezone(dt_timezone.utc) == datetime(2025, 3, 5, 15, 0, tzinfo=dt_timezone.utc)
    assert selectors.end_of_today(tenant=tenant, now=at).astimezone(dt_timezone.utc) == datetime(
        2025, 3, 5, 5, 0, tzinfo=dt_timezone.utc)
