"""A sequence's name is unique in its workspace, whatever the case; another workspace may reuse it."""
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from sequences.models import Sequence
from sequences.services import sequences as service
from tests.factories import SequenceFactory

pytestmark = pytest.mark.django_db


def test_creating_a_sequence_with_a_taken_name_in_another_case_is_refused(tenant, rep):
    service.sequence_create(tenant=tenant, actor=rep, name="Q3 outbound")
    with pytest.raises(ValidationError, match="already a sequence named"):
        service.sequence_create(tenant=tenant, actor=rep, name="q3 OUTBOUND ")
    assert Sequence.objects.filter(tenant=tenant).count() == 1


def test_another_workspace_may_use_the_same_sequence_name(tenant, other_tenant, rep, outsider):
    service.sequence_create(tenant=tenant, actor=rep, name="Q3 outbound")
    service.sequence_create(tenant=other_tenant, actor=outsider, name="Q3 outbound")
    assert Sequence.objects.filter(name="Q3 outbound").count() == 2


def test_renaming_a_sequence_onto_a_taken_name_is_refused(tenant, rep):
    SequenceFactory(tenant=tenant, name="Q3 outbound")
    other = SequenceFactory(tenant=tenant, name="Q4 outbound")
    with pytest.raises(ValidationError) as raised:
        service.sequence_update_settings(tenant=tenant, sequence=other, actor=rep, values={"name": "Q3 OUTBOUND"})
    assert "already a sequence named" in raised.value.message_dict["name"][0]
    service.sequence_update_settings(tenant=tenant, sequence=other, actor=rep, values={"name": "q4 outbound"})
    assert Sequence.objects.get(pk=other.pk).name == "q4 outbound"


def test_a_copy_or_a_template_never_takes_a_name_in_another_case(tenant, rep):
    source = SequenceFactory(tenant=tenant, name="Warm")
    SequenceFactory(tenant=tenant, name="copy of warm")
    copy = service.sequence_duplicate(tenant=tenant, sequence=source, actor=rep)
    assert copy.name == "Copy of Warm (2)"


def test_the_database_refuses_a_duplicate_sequence_name(tenant):
    SequenceFactory(tenant=tenant, name="Q3 outbound")
    with pytest.raises(IntegrityError):
        SequenceFactory(tenant=tenant, name="q3 outbound")


def test_the_create_page_shows_the_duplicate_inline_with_422(rep_client, tenant, other_tenant):
    SequenceFactory(tenant=tenant, name="Q3 outbound")
    SequenceFactory(tenant=other_tenant, name="Theirs")
    response = rep_client.post("/sequences/new/", {"name": "q3 outbound"})
    assert response.status_code == 422
    assert "already a sequence named" in response.content.decode()
    assert rep_client.post("/sequences/new/", {"name": "Theirs"}).status_code == 302
