"""A list's name is unique in its workspace, whatever the case; another workspace may reuse it."""
import pytest
from django.core.exceptions import ValidationError

from contacts.models import ContactList
from contacts.services.lists import list_create, list_rename
from tests.factories import ContactListFactory

pytestmark = pytest.mark.django_db


def test_a_second_list_with_the_same_name_in_another_case_is_refused(tenant, rep):
    list_create(tenant=tenant, name="Warm leads", actor=rep)
    with pytest.raises(ValidationError, match="already a list named"):
        list_create(tenant=tenant, name="  WARM LEADS ", actor=rep)
    assert ContactList.objects.filter(tenant=tenant).count() == 1


def test_another_workspace_may_use_the_same_name(tenant, other_tenant, rep, outsider):
    list_create(tenant=tenant, name="Warm leads", actor=rep)
    list_create(tenant=other_tenant, name="Warm leads", actor=outsider)
    assert ContactList.objects.filter(name="Warm leads").count() == 2


def test_renaming_onto_a_taken_name_is_refused_but_changing_the_case_of_its_own_is_not(tenant, rep):
    ContactListFactory(tenant=tenant, name="Warm leads")
    cold = ContactListFactory(tenant=tenant, name="Cold leads")
    with pytest.raises(ValidationError, match="already a list named"):
        list_rename(tenant=tenant, contact_list=cold, name="warm Leads", actor=rep)
    list_rename(tenant=tenant, contact_list=cold, name="COLD leads", actor=rep)
    assert ContactList.objects.get(pk=cold.pk).name == "COLD leads"


def test_the_database_refuses_a_duplicate_that_skips_the_service(tenant):
    from django.db import IntegrityError

    ContactListFactory(tenant=tenant, name="Warm leads")
    with pytest.raises(IntegrityError):
        ContactListFactory(tenant=tenant, name="warm leads")


def test_creating_a_duplicate_on_the_page_answers_422_with_the_reason_inline(rep_client, tenant, other_tenant):
    ContactListFactory(tenant=tenant, name="Warm leads")
    ContactListFactory(tenant=other_tenant, name="Mine only")
    response = rep_client.post("/lists/", {"name": "warm leads"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "already a list named" in response.content.decode()
    assert rep_client.post("/lists/", {"name": "Mine only"}).status_code == 302


def test_renaming_a_list_onto_a_taken_name_on_the_page_answers_422(rep_client, tenant):
    ContactListFactory(tenant=tenant, name="Warm leads")
    cold = ContactListFactory(tenant=tenant, name="Cold leads")
    response = rep_client.post(f"/lists/{cold.pk}/rename/", {"name": "WARM LEADS"})
    assert response.status_code == 422
    assert "already a list named" in response.content.decode()
