from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection, transaction
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


def test_my_enrollment_figures_are_read_from_the_tallies_not_the_enrollments(
        django_assert_max_num_queries, tenant, rep, manager, other_tenant, outsider):
    _world(tenant, rep, manager, scale=3)
    _world(other_tenant, outsider, outsider, scale=2)

    with CaptureQueriesContext(connection) as queries:
        counts = selectors.my_enrollment_counts(tenant=tenant, user=rep)

    assert counts == {"active": 3, "paused": 3, "completed": 0}
    assert len(queries) == 1
    assert '"sequences_enrollment"' not in queries[0]["sql"]
    assert '"sequences_enrollmenttally"' in queries[0]["sql"]
    membership = manager.memberships.get()
    with django_assert_max_num_queries(6):
        selectors.dashboard_for(tenant=tenant, membership=membership, user=manager)


def _plans(read):
    """The plans of the queries `read()` makes with table scans and sorts priced out, as
    they are at scale for these: whether an index gives the rows in the query's order,
    or the count from the index alone."""
    with CaptureQueriesContext(connection) as queries:
        read()
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")  # a Sort left in the plan is one no index avoids
        for query in queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute("SET LOCAL enable_seqscan = on")
        cursor.execute("SET LOCAL enable_sort = on")
    return plans


def test_the_activity_feed_reads_the_latest_rows_in_index_order_without_a_sort(tenant, rep, manager):
    _world(tenant, rep, manager, scale=3)
    membership = manager.memberships.get()
    assert len(selectors.recent_activity(tenant=tenant, membership=membership)) == 3

    (plan,) = _plans(lambda: selectors.recent_activity(tenant=tenant, membership=membership))

    assert "activity_feed_idx" in plan
    assert "Sort" not in plan


@pytest.mark.django_db(transaction=True)
def test_the_pending_approvals_figures_and_badge_are_counted_from_the_index_alone(
        tenant, rep, manager, other_tenant, outsider):
    from approvals.selectors import pending_count

    _world(tenant, rep, manager, scale=3)
    _world(other_tenant, outsider, outsider, scale=2)
    membership = manager.memberships.get()
    assert selectors.pending_approvals(tenant=tenant, membership=membership)["count"] == 3
    assert pending_count(tenant=tenant, membership=membership) == 3
    # As autovacuum leaves a table at rest: its pages marked all-visible, so an index-only
    # scan needs no visit to the table (VACUUM cannot run inside a transaction).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE approvals_approvalrequest")

    plans = _plans(lambda: (selectors.pending_approvals(tenant=tenant, membership=membership),
                            pending_count(tenant=tenant, membership=membership)))

    assert len(plans) == 2
    for plan in plans:
        assert "Index Only Scan using approval_queue_idx" in plan, plan
