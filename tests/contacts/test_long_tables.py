"""Contact tables past the count bound: a list's "Enroll all N members" counts every member
(the action takes them all), the suppression list says "N+" once it stops counting."""
import pytest

from contacts.services.suppressions import suppression_add
from contacts.views import lists as list_views
from scendcore import paging
from tests.factories import ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db


def test_enroll_all_names_every_member_of_the_list_beyond_the_bound(rep_client, tenant, other_tenant, monkeypatch):
    contact_list = ContactListFactory(tenant=tenant)
    contact_list.contacts.add(*(ContactFactory(tenant=tenant) for _ in range(3)))
    foreign = ContactListFactory(tenant=other_tenant)
    foreign.contacts.add(*(ContactFactory(tenant=other_tenant) for _ in range(4)))
    monkeypatch.setattr(paging, "COUNT_CAP", 1)
    monkeypatch.setattr(list_views, "PAGE_SIZE", 1)

    body = rep_client.get(f"/lists/{contact_list.pk}/").content.decode()

    assert "Enroll all 3 members in" in body and "3 members" in body
    assert rep_client.get(f"/lists/{foreign.pk}/").status_code == 404


def test_the_suppression_list_says_how_many_up_to_the_bound(admin_client_, tenant, other_tenant, monkeypatch):
    suppression_add(tenant=tenant, addresses=[f"gone{n}@acme.example" for n in range(3)], reason="unsubscribed",
                    source="test")
    suppression_add(tenant=other_tenant, addresses=[f"theirs{n}@globex.example" for n in range(5)],
                    reason="unsubscribed", source="test")
    body = admin_client_.get("/contacts/suppression/").content.decode()
    assert "3 entries" in body and "theirs" not in body

    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    from contacts.views import suppression as suppression_views
    monkeypatch.setattr(suppression_views, "PAGE_SIZE", 1)
    body = admin_client_.get("/contacts/suppression/").content.decode()
    assert "2+ entries" in body and "?q=&page=2" in body
