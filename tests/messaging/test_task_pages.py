"""The Tasks page with many open tasks: a page of them at a time, earliest due first, with
the way to the next page, and the team's order read off an index."""
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from messaging import selectors
from messaging.views import tasks as task_views
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db


def open_tasks(tenant, owner, n, prefix="Call"):
    start = timezone.now()
    return [TaskFactory(tenant=tenant, owner=owner, title=f"{prefix} {i}", due_at=start + timedelta(hours=i))
            for i in range(n)]


def test_a_rep_sees_a_page_of_open_tasks_earliest_due_first_and_the_next_page(rep_client, tenant, rep,
                                                                              other_tenant, monkeypatch):
    open_tasks(tenant, rep, 3)
    open_tasks(other_tenant, None, 2, prefix="Outsider")
    monkeypatch.setattr(task_views, "PAGE_SIZE", 2)

    first = rep_client.get("/tasks/").content.decode()
    second = rep_client.get("/tasks/?page=2").content.decode()

    assert "Call 0" in first and "Call 1" in first and "Call 2" not in first
    assert first.index("Call 0") < first.index("Call 1")
    assert 'href="?page=2"' in first and "3 tasks" in first
    assert "Call 2" in second and "Call 0" not in second and "Outsider" not in first + second


def test_the_team_pages_keep_the_team_scope(manager_client, tenant, rep, monkeypatch):
    open_tasks(tenant, rep, 3)
    monkeypatch.setattr(task_views, "PAGE_SIZE", 2)

    body = manager_client.get("/tasks/?scope=team").content.decode()

    assert 'href="?scope=team&page=2"' in body
    assert "Call 2" in manager_client.get("/tasks/?scope=team&page=2").content.decode()


def test_a_short_list_has_no_page_links(rep_client, tenant, rep):
    open_tasks(tenant, rep, 2)
    body = rep_client.get("/tasks/").content.decode()
    assert "Call 1" in body and "page=2" not in body


def test_the_team_tasks_page_ids_come_from_an_index_without_a_sort(tenant, manager, rep):
    open_tasks(tenant, rep, 2)
    membership = manager.memberships.get(tenant=tenant)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned
        cursor.execute("SET LOCAL enable_sort = off")  # and any other index followed by a sort
    rows = selectors.task_list(tenant=tenant, membership=membership, team=True)

    plan = rows.values_list("pk", flat=True)[1000:1050].explain()

    assert "task_team_order_idx" in plan and "Sort" not in plan, plan


def test_the_done_tabs_page_ids_come_from_an_index_without_a_sort(tenant, manager, rep):
    TaskFactory(tenant=tenant, owner=rep, status="completed", completed_at=timezone.now())
    membership = manager.memberships.get(tenant=tenant)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")  # and any other index followed by a sort
    rows = selectors.task_list(tenant=tenant, membership=membership, team=True, done=True)

    plan = rows.values_list("pk", flat=True)[1000:1050].explain()

    assert "task_done_order_idx" in plan and "Sort" not in plan, plan
