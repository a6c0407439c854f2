"""The Messages table at scale: the per-state counts are bounded counts over an index, a
capped table says "Page N" without "of M", and a page's ids come off the table's index."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging import selectors
from messaging.models import MessageState, OutboundMessage
from messaging.views import messages as message_views
from scendcore import paging
from tests.factories import ContactFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db


def mail(tenant, n, *, state=MessageState.SENT, prefix="Note"):
    for i in range(n):
        make_message(tenant=tenant, contact=ContactFactory(tenant=tenant), subject=f"{prefix} {i}", state=state,
                     key=f"{tenant.pk}:{prefix}:{state}:{i}")


def badge(body, state):
    return body.split(f'href="?state={state}"', 1)[1].split("</span>", 1)[0].rsplit(">", 1)[1]


def test_each_state_shows_how_many_messages_it_holds_and_not_the_outsiders(manager_client, tenant, other_tenant):
    mail(tenant, 3)
    mail(tenant, 1, state=MessageState.FAILED)
    mail(other_tenant, 4)

    body = manager_client.get("/messages/").content.decode()

    assert badge(body, "sent") == "3" and badge(body, "failed") == "1"
    assert 'href="?state=queued"' not in body  # a state without messages gets no button


def test_a_state_with_more_messages_than_the_bound_says_so_with_a_plus(manager_client, tenant, monkeypatch):
    mail(tenant, 3)
    mail(tenant, 1, state=MessageState.FAILED)
    monkeypatch.setattr(paging, "COUNT_CAP", 2)

    body = manager_client.get("/messages/").content.decode()

    assert badge(body, "sent") == "2+" and badge(body, "failed") == "1"


def test_the_state_counts_are_one_query_however_many_states_have_mail(tenant, manager):
    for state in (MessageState.SENT, MessageState.FAILED, MessageState.QUEUED, MessageState.BOUNCED):
        mail(tenant, 2, state=state)
    membership = manager.memberships.get(tenant=tenant)

    with CaptureQueriesContext(connection) as captured:
        counts = selectors.message_state_counts(tenant=tenant, membership=membership, cap=1)

    assert counts == {"queued": 2, "sent": 2, "failed": 2, "bounced": 2}  # cap + 1: "more than the bound"
    assert len(captured) == 1


def test_a_capped_table_says_which_page_without_a_last_page(manager_client, tenant, other_tenant, monkeypatch):
    mail(tenant, 3)
    mail(other_tenant, 5, prefix="Outsider")
    monkeypatch.setattr(message_views, "PAGE_SIZE", 2)
    body = manager_client.get("/messages/").content.decode()
    assert "Page 1 of 2" in body and "Outsider" not in body

    monkeypatch.setattr(paging, "COUNT_CAP", 1)
    body = manager_client.get("/messages/").content.decode()
    assert "Page 1</span>" in body and " of " not in body.split("Page 1", 1)[1].split("</span>", 1)[0]
    assert "?state=&page=2" in body  # older messages are still one click away


def test_the_table_costs_the_same_queries_on_a_far_page(manager_client, tenant, monkeypatch,
                                                       django_assert_max_num_queries):
    mail(tenant, 6)
    monkeypatch.setattr(message_views, "PAGE_SIZE", 2)
    with CaptureQueriesContext(connection) as first:
        manager_client.get("/messages/")
    with django_assert_max_num_queries(len(first)):
        assert "Note 0" in manager_client.get("/messages/?page=3").content.decode()


def test_the_tables_page_ids_come_from_its_index_without_a_sort(tenant, manager):
    mail(tenant, 3)
    membership = manager.memberships.get(tenant=tenant)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned
        cursor.execute("SET LOCAL enable_sort = off")  # and any other index followed by a sort
    for state in ("", MessageState.SENT):
        rows = selectors.message_list(tenant=tenant, membership=membership, state=state)
        plan = rows.values_list("pk", flat=True)[2000:2050].explain()
        assert "outbound_table" in plan and "Sort" not in plan, plan


def test_a_states_rows_are_read_off_the_by_state_index(tenant):
    # Many messages in one state, few in another, and fresh statistics: the planner then
    # reads the rare state's rows (its count and its page) off the by-state index.
    mail(tenant, 2)
    contact = ContactFactory(tenant=tenant)
    OutboundMessage.objects.bulk_create(
        OutboundMessage(tenant=tenant, contact=contact, idempotency_key=f"bulk-{n}", state=MessageState.QUEUED,
                        to_address=contact.email) for n in range(500))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_outboundmessage")

    count_plan = OutboundMessage.objects.filter(tenant=tenant, state="sent").values("pk")[:10_001].explain()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_bitmapscan = off")  # two rows would be fetched and sorted
    page_plan = OutboundMessage.objects.filter(tenant=tenant, state="sent").order_by("-created_at", "-id") \
        .values_list("pk", flat=True)[:50].explain()

    assert "outbound_table_state_idx" in count_plan, count_plan
    assert "outbound_table_state_idx" in page_plan and "Sort" not in page_plan, page_plan
