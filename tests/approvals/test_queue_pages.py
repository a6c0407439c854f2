"""The approval queue at scale: the number of pending drafts stays exact (reviewers act on
it) past the tables' count bound, and the last page is read off the queue's index like the
first."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals import selectors
from approvals import views as approval_views
from scendcore import paging

from .builders import pending_approval

pytestmark = pytest.mark.django_db

QUEUE = reverse("approvals:queue")


def test_the_pending_count_stays_exact_beyond_the_tables_bound(tenant, other_tenant, manager_client, monkeypatch):
    for n in range(5):
        pending_approval(tenant=tenant, subject=f"Draft {n}")
    pending_approval(tenant=other_tenant, subject="Outsider draft")
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    monkeypatch.setattr(approval_views, "PAGE_SIZE", 2)

    body = manager_client.get(QUEUE).content.decode()

    assert "5 pending drafts" in body and "Page 1 of 3" in body and "+" not in body.split("pending draft")[0][-8:]
    assert "Outsider draft" not in body


def test_the_last_page_holds_the_newest_drafts_in_as_many_queries_as_the_first(
        tenant, manager_client, monkeypatch, django_assert_max_num_queries):
    for n in range(5):
        pending_approval(tenant=tenant, subject=f"Draft {n}")
    monkeypatch.setattr(approval_views, "PAGE_SIZE", 2)
    with CaptureQueriesContext(connection) as first:
        assert "Draft 0" in manager_client.get(QUEUE).content.decode()

    with django_assert_max_num_queries(len(first)):
        last = manager_client.get(f"{QUEUE}?page=3").content.decode()

    assert "Draft 4" in last and "Draft 3" not in last and "Page 3 of 3" in last


def test_the_queues_page_ids_come_from_its_index_without_a_sort(tenant, manager):
    pending_approval(tenant=tenant)
    membership = manager.memberships.get(tenant=tenant)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned
        cursor.execute("SET LOCAL enable_sort = off")  # and any other index followed by a sort
    queue = selectors.approval_queue(tenant=tenant, membership=membership, filters={})

    plan = queue.values_list("pk", flat=True)[4975:5000].explain()

    assert "approval_queue_idx" in plan and "Sort" not in plan, plan
