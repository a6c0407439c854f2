"""The quarantine table past the count bound: it says which page without a last page, and a
far page costs the queries the first does."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import InboundQuarantine
from messaging.views import quarantine as quarantine_views
from scendcore import paging

pytestmark = pytest.mark.django_db


def held(tenant, n, prefix="Broken"):
    start = timezone.now()
    for i in range(n):
        InboundQuarantine.objects.create(tenant=tenant, source="webhook", subject=f"{prefix} {i}", raw=b"x",
                                         raw_sha256=f"{prefix}{i}", error="boom",
                                         received_at=start - timedelta(minutes=i))


def test_a_capped_quarantine_says_which_page_without_a_last_page(manager_client, tenant, other_tenant, monkeypatch):
    held(tenant, 3)
    held(other_tenant, 2, prefix="Outsider")
    monkeypatch.setattr(quarantine_views, "PAGE_SIZE", 2)
    body = manager_client.get("/inbound/quarantine/").content.decode()
    assert "Page 1 of 2" in body and "Broken 0" in body and "Outsider" not in body

    monkeypatch.setattr(paging, "COUNT_CAP", 1)
    body = manager_client.get("/inbound/quarantine/").content.decode()
    assert "Page 1</span>" in body and "Page 1 of" not in body and "page=2" in body


def test_a_far_quarantine_page_costs_the_queries_of_the_first(manager_client, tenant, monkeypatch,
                                                               django_assert_max_num_queries):
    held(tenant, 5)
    monkeypatch.setattr(quarantine_views, "PAGE_SIZE", 2)
    with CaptureQueriesContext(connection) as first:
        manager_client.get("/inbound/quarantine/")
    with django_assert_max_num_queries(len(first)):
        body = manager_client.get("/inbound/quarantine/?page=3").content.decode()
    assert "Broken 4" in body and "Broken 0" not in body
