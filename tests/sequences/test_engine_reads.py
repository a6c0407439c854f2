"""The processor's fast read of a claimed batch gives the same instances the ORM would."""
from datetime import timedelta

import pytest
from django.db import transaction

from contacts.models import Contact
from sequences.engine import sweep
from sequences.engine.reads import claimed_enrollments
from sequences.models import Enrollment
from tests.factories import ContactFactory

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence

pytestmark = pytest.mark.django_db


def field_values(obj):
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_the_claimed_rows_carry_every_field_of_enrollment_and_contact_as_the_orm_reads_them(tenant, other_tenant):
    sequence, (first, *_) = running_sequence(tenant)
    contact = ContactFactory(
        tenant=tenant, custom_fields={"industry": "logistics", "seats": 40},
        last_replied_at=WEDNESDAY - timedelta(days=3), do_not_contact=False,
    )
    ours = due_enrollment(sequence, first, contact=contact, priority=2)
    outsider_sequence, (outsider_first, *_) = running_sequence(other_tenant)
    outsider = due_enrollment(outsider_sequence, outsider_first)
    claimed = sweep.claim_batch(now=WEDNESDAY, owner="w1", limit=1000)
    assert sorted(claimed) == sorted([ours.pk, outsider.pk])
    Enrollment.objects.filter(pk=outsider.pk).update(lease_owner="someone-else")

    with transaction.atomic():
        rows = claimed_enrollments(ids=claimed, lease_owner="w1")

    assert [e.pk for e in rows] == [ours.pk]
    (read,) = rows
    assert field_values(read) == field_values(Enrollment.objects.get(pk=ours.pk))
    assert field_values(read.contact) == field_values(Contact.objects.get(pk=contact.pk))
    assert read.contact.custom_fields == {"industry": "logistics", "seats": 40}
    assert read.next_run_at.utcoffset() == timedelta(0)
    assert read._state.adding is False and read._state.db == "default"
