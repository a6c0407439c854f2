"""The contact table at scale: a total counted up to a bound, "select all" counted exactly
when asked, every sort and filter read from an index, and a search sorted from its
matches when they are few."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts.selectors import SORTS, ContactPaginator, contact_filter, contact_table
from contacts.views import contacts as contact_views
from scendcore import paging
from sequences.models import Enrollment
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def capped(monkeypatch):
    """A count cap of 3 over pages of 2: five contacts are "3+"."""
    monkeypatch.setattr(paging, "COUNT_CAP", 3)
    monkeypatch.setattr(contact_views, "PAGE_SIZE", 2)


def _hot(tenant, n, **fields):
    return [ContactFactory(tenant=tenant, score_band="hot", **fields) for _ in range(n)]


def _plan(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be scanned
        cursor.execute("SET LOCAL enable_sort = off")  # sorted only if no index gives the order
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _page_ids_query(client, params):
    """The SQL of the query that picks a page's ids on the contacts page."""
    with CaptureQueriesContext(connection) as captured:
        client.get(reverse("contacts:index"), params)
    return next(q["sql"] for q in captured.captured_queries
                if q["sql"].startswith('SELECT "contacts_contact"."id" AS "pk" FROM "contacts_contact"'))


def test_the_contacts_page_counts_up_to_the_cap_and_shows_a_plus_beyond_it(manager_client, tenant, other_tenant,
                                                                           capped):
    _hot(tenant, 5)
    _hot(other_tenant, 4)

    page = manager_client.get(reverse("contacts:index")).content.decode()

    assert "3+ contacts · page 1</span>" in page  # no "of 3": the last page is not known
    assert 'Select all <span id="matching-count">3+</span> matching this filter' in page
    assert f'hx-get="{reverse("contacts:count")}?' in page


def test_under_the_cap_the_page_shows_the_exact_totals_and_asks_for_no_count(manager_client, tenant, other_tenant):
    _hot(tenant, 4)
    _hot(other_tenant, 6)

    page = manager_client.get(reverse("contacts:index"), {"score": "hot"}).content.decode()

    assert "4 contacts" in page
    assert 'Select all <span id="matching-count" data-exact>4</span> matching this filter' in page
    assert reverse("contacts:count") not in page


def test_select_all_counts_every_match_exactly_when_asked(manager_client, tenant, other_tenant, capped,
                                                          django_assert_max_num_queries):
    _hot(tenant, 5)
    ContactFactory(tenant=tenant, score_band="cold")
    _hot(other_tenant, 4)

    with django_assert_max_num_queries(12):
        response = manager_client.get(reverse("contacts:count"), {"score": "hot"}, HTTP_HX_REQUEST="true")

    assert response.content.decode().strip() == '<span id="matching-count" data-exact>5</span>'


def test_a_rep_who_sees_only_their_own_contacts_counts_only_those(rep_client, rep, tenant):
    tenant.reps_see_only_own_contacts = True
    tenant.save(update_fields=["reps_see_only_own_contacts"])
    _hot(tenant, 2, owner=rep)
    _hot(tenant, 3)

    response = rep_client.get(reverse("contacts:count"), {"score": "hot"})

    assert ">2</span>" in response.content.decode()


def test_an_outsider_gets_no_count_of_the_tenants_contacts(outsider_client, tenant):
    _hot(tenant, 3)

    response = outsider_client.get(reverse("contacts:count"))

    assert ">0</span>" in response.content.decode()


def test_enrolling_all_matching_past_the_cap_asks_with_the_exact_number(manager_client, tenant, other_tenant, capped):
    sequence = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=sequence)
    _hot(tenant, 5)
    _hot(other_tenant, 4)

    page = manager_client.post(reverse("contacts:bulk"), {"action": "enroll", "sequence": sequence.pk,
                                                          "select_all": "1", "score": "hot"}).content.decode()

    assert "Enroll all 5 contacts matching this filter" in page
    assert '<strong id="selected-count">5</strong>' in page
    assert 'Select all <span id="matching-count" data-exact>5</span> matching' in page
    assert not Enrollment.objects.exists()


@pytest.mark.parametrize("sort", list(SORTS))
def test_a_search_lists_its_matches_in_the_order_the_table_sorts_without_one(tenant, other_tenant, manager, sort):
    start = timezone.now()
    people = [("Bo", "Smith", "Acme"), ("Al", "Smith", "Acme"), ("Cy", "Adams", "Zeta"), ("Al", "Zane", "Acme"),
              ("Di", "Smith", "Beta")]
    for n, (first, last, company) in enumerate(people):
        ContactFactory(tenant=tenant, first_name=first, last_name=last, company=company,
                       email=f"{first.lower()}{n}@smith.example")
    Contact.objects.filter(tenant=tenant).update(created_at=start)  # ties broken by id
    Contact.objects.filter(tenant=tenant, first_name="Di").update(created_at=start - timedelta(days=1))
    ContactFactory(tenant=other_tenant, first_name="Al", last_name="Smith")
    membership = manager.memberships.get(tenant=tenant)
    filters = {"q": "smith", "sort": sort}

    expected = list(contact_filter(tenant=tenant, membership=membership, filters=filters).values_list("pk", flat=True))
    paginator = contact_table(tenant=tenant, membership=membership, filters=filters, per_page=2)
    shown = [c.pk for number in (1, 2, 3) for c in paginator.get_page(number)]

    assert isinstance(paginator, ContactPaginator) and paginator.count == 5
    assert shown == expected


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("filters", [{}, {"status": "new"}, {"score": "hot", "owner": "me"}])
def test_every_sort_and_filter_of_the_table_reads_its_page_from_an_index_without_a_sort(
        manager_client, manager, tenant, sort, filters):
    ContactFactory(tenant=tenant, owner=manager, lead_status="new", score_band="hot")
    params = {**filters, "sort": sort}
    if params.get("owner") == "me":
        params["owner"] = manager.pk

    plan = _plan(_page_ids_query(manager_client, params))

    assert "Sort" not in plan, plan
    if sort.lstrip("-") == "email":
        # A table this small may be read through the unique (tenant, lower(email)) index,
        # which gives the same order.
        assert "contact_table_email_idx" in plan or "unique_contact_email_per_tenant" in plan, plan
    else:
        assert f"contact_table_{sort.lstrip('-')}_idx" in plan, plan


def test_a_search_with_few_matches_sorts_them_instead_of_walking_the_sort_index(manager_client, tenant):
    # Walking the name index for "smith" reads every name before S first. With sorting
    # disabled the planner sorts only when no index can give the order: here none may.
    ContactFactory(tenant=tenant, last_name="Smith")
    ContactFactory(tenant=tenant, last_name="Jones")

    plan = _plan(_page_ids_query(manager_client, {"q": "smith"}))

    assert "Sort" in plan, plan


def test_a_search_matching_more_than_the_cap_walks_the_sort_index_instead(manager_client, tenant, capped):
    for _ in range(5):
        ContactFactory(tenant=tenant, last_name="Smith")

    plan = _plan(_page_ids_query(manager_client, {"q": "smith"}))

    assert "contact_table_name_idx" in plan and "Sort" not in plan, plan


def test_not_in_a_sequence_reads_open_enrollments_from_their_own_index(tenant):
    contact = ContactFactory(tenant=tenant)
    EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant), contact=contact)
    rows = contact_filter(tenant=tenant, membership=None, filters={"in_sequence": "no"})
    sql, params = rows.order_by().values("pk").query.sql_with_params()

    plan = _plan(sql, params)

    assert "Index Only Scan using enrollment_open_by_contact_idx" in plan, plan
