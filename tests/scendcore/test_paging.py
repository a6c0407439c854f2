"""Long tables: a page's rows found by id over the table's own order, the total counted up to
a bound, and the enrollment table's order backed by an index."""
from datetime import timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scendcore import paging
from scendcore.paging import TablePaginator
from sequences.models import Enrollment
from sequences.views import enrollments as enrollment_views
from tests.factories import EnrollmentFactory, SequenceFactory

pytestmark = pytest.mark.django_db


def _enrollments(tenant, count, sequence=None):
    sequence = sequence or SequenceFactory(tenant=tenant)
    start = timezone.now()
    for n in range(count):
        EnrollmentFactory(sequence=sequence, enrolled_at=start - timedelta(minutes=n % 4))
    return sequence


def _table(sequence):
    return (Enrollment.objects.filter(tenant=sequence.tenant, sequence=sequence)
            .select_related("contact", "current_step").order_by("-enrolled_at", "-id"))


def test_every_page_holds_the_same_rows_in_the_same_order_as_djangos_paginator(tenant):
    sequence = _enrollments(tenant, 23)
    for number in (1, 2, 3, 99, "x"):
        ours = TablePaginator(_table(sequence), 10).get_page(number)
        theirs = Paginator(_table(sequence), 10).get_page(number)
        assert [e.pk for e in ours] == [e.pk for e in theirs], number
        assert ours.number == theirs.number and ours.has_next() == theirs.has_next()


def test_a_pages_rows_come_with_their_joins_in_a_fixed_number_of_queries(tenant):
    sequence = _enrollments(tenant, 30)
    with CaptureQueriesContext(connection) as captured:
        page = TablePaginator(_table(sequence), 25).get_page(1)
        emails = [e.contact.email for e in page]
    assert len(emails) == 25
    assert len(captured) == 3  # the bounded count, the page's ids, the rows with their joins


def test_the_total_is_exact_up_to_the_bound_and_shown_with_a_plus_beyond_it(tenant):
    sequence = _enrollments(tenant, 7)
    assert TablePaginator(_table(sequence), 2, count_cap=7).count_label == "7"
    capped = TablePaginator(_table(sequence), 2, count_cap=5)
    capped.get_page(1)
    assert capped.count_is_capped and capped.count_label == "5+"
    exact = TablePaginator(_table(sequence), 2, count_cap=5, exact_count=True)
    assert exact.count == 7 and exact.count_label == "7" and not exact.count_is_capped


def test_a_page_past_the_bound_is_served_and_knows_whether_another_follows(tenant):
    sequence = _enrollments(tenant, 9)
    paginator = TablePaginator(_table(sequence), 2, count_cap=3)
    page = paginator.get_page(4)
    assert page.number == 4 and len(page) == 2 and page.has_next()
    assert [e.pk for e in page] == [e.pk for e in _table(sequence)[6:8]]
    last = TablePaginator(_table(sequence), 2, count_cap=3).get_page(5)
    assert len(last) == 1 and not last.has_next()


def test_a_page_number_past_the_end_shows_the_last_page(tenant):
    sequence = _enrollments(tenant, 5)
    page = TablePaginator(_table(sequence), 2, count_cap=3).get_page(40)
    assert page.number == 3 and [e.pk for e in page] == [e.pk for e in _table(sequence)[4:5]]


def test_the_enrollment_table_says_how_many_up_to_the_bound(rep_client, tenant, other_tenant, monkeypatch):
    sequence = _enrollments(tenant, 4)
    _enrollments(other_tenant, 6)
    page = rep_client.get(f"/sequences/{sequence.pk}/enrollments/").content.decode()
    assert "4 enrollments" in page
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    monkeypatch.setattr(enrollment_views, "PAGE_SIZE", 2)  # the count goes at least to the page's end
    page = rep_client.get(f"/sequences/{sequence.pk}/enrollments/").content.decode()
    assert "3+ enrollments" in page


def test_the_enrollment_tables_page_ids_come_from_its_index_without_a_sort(tenant):
    sequence = _enrollments(tenant, 3)
    with connection.cursor() as cursor:
        # A table this small would be scanned, or read by any index and sorted: only an index
        # in the table's order avoids a sort once both are priced out.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    for rows in (_table(sequence), _table(sequence).filter(status="active")):
        plan = rows.values_list("pk", flat=True)[2000:2050].explain()
        assert "enrollment_table" in plan and "Sort" not in plan, plan


def test_an_outsider_gets_no_enrollment_table_and_no_count(outsider_client, tenant):
    sequence = _enrollments(tenant, 2)
    response = outsider_client.get(f"/sequences/{sequence.pk}/enrollments/")
    assert response.status_code == 404 and b"2 enrollments" not in response.content


def test_a_page_number_too_large_for_the_database_shows_the_last_page(rep_client, tenant):
    sequence = _enrollments(tenant, 3)
    response = rep_client.get(f"/sequences/{sequence.pk}/enrollments/?page={'9' * 25}")
    assert response.status_code == 200 and "3 enrollments" in response.content.decode()


@pytest.mark.parametrize("path", ["/contacts/", "/messages/", "/approvals/", "/tasks/", "/contacts/suppression/",
                                  "/inbound/quarantine/", "/sequences/", "list"])
def test_every_paged_table_answers_a_huge_page_number_with_its_last_page(manager_client, tenant, path):
    from tests.factories import ContactListFactory

    if path == "list":
        path = f"/lists/{ContactListFactory(tenant=tenant).pk}/"
    response = manager_client.get(f"{path}?page={'9' * 25}")
    assert response.status_code == 200
