"""`field__any=[…]`: the processor's batch filter, sent to PostgreSQL as one array."""
import pytest

from contacts.models import Contact
from sequences.models import Enrollment
from tests.factories import ContactFactory, EnrollmentFactory

pytestmark = pytest.mark.django_db

AWKWARD = ['say "hi"', "back\\slash", "a,b", "{braces}", "two  spaces", "NULL", "", "Zoë ☃"]


def test_ids_select_exactly_those_rows_and_never_the_outsiders(tenant, other_tenant):
    ours = [ContactFactory(tenant=tenant) for _ in range(3)]
    theirs = ContactFactory(tenant=other_tenant)

    found = Contact.objects.filter(tenant=tenant, pk__any=[ours[0].pk, ours[2].pk, theirs.pk])

    assert sorted(c.pk for c in found) == sorted([ours[0].pk, ours[2].pk])
    assert list(Contact.objects.filter(tenant=tenant, pk__any=[])) == []


def test_strings_with_quotes_backslashes_commas_and_braces_match_themselves_only(tenant):
    for name in AWKWARD:
        ContactFactory(tenant=tenant, first_name=name)
    ContactFactory(tenant=tenant, first_name="say")

    for name in AWKWARD:
        assert [c.first_name for c in Contact.objects.filter(tenant=tenant, first_name__any=[name])] == [name]
    both = Contact.objects.filter(tenant=tenant, first_name__any=['say "hi"', "a,b"])
    assert sorted(c.first_name for c in both) == ["a,b", 'say "hi"']


def test_a_value_longer_than_the_column_is_not_cut_to_fit(tenant):
    ContactFactory(tenant=tenant, first_name="x" * 100)  # the column holds 100 characters

    assert not Contact.objects.filter(tenant=tenant, first_name__any=["x" * 101]).exists()
    assert Contact.objects.filter(tenant=tenant, first_name__any=["x" * 100]).exists()


def test_values_of_other_types_still_match(tenant):
    contact = ContactFactory(tenant=tenant)

    assert list(Contact.objects.filter(created_at__any=[contact.created_at])) == [contact]


def test_ids_given_as_strings_or_instances_are_prepared_like_in(tenant):
    contact = ContactFactory(tenant=tenant)
    enrollment = EnrollmentFactory(tenant=tenant, contact=contact)

    assert list(Contact.objects.filter(pk__any=[str(contact.pk)])) == [contact]
    assert list(Enrollment.objects.filter(contact__any=[contact])) == [enrollment]
    assert list(Enrollment.objects.filter(contact_id__any=[contact.pk, None])) == [enrollment]
