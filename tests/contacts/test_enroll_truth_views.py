"""The enroll forms tell the truth: ended leads and contacts active in another sequence
are reported with the reason (bulk, list) or warned about before enrolling (profile)."""
import pytest
from django.urls import reverse

from contacts.models import ListMembership
from sequences.models import Enrollment
from sequences.services.enrollments import enrollment_create
from tests.factories import ContactFactory, ContactListFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


def _sequence(tenant, name, job_type="initial_outreach"):
    seq = SequenceFactory(tenant=tenant, status="active", name=name)
    StepFactory(sequence=seq, delay_value=1, job_type=job_type)
    return seq


@pytest.fixture
def intro(tenant):
    return _sequence(tenant, "Intro")


@pytest.fixture
def webinar(tenant):
    return _sequence(tenant, "Webinar intro")


def test_bulk_enroll_reports_ended_leads_and_contacts_active_elsewhere_as_skipped(rep_client, tenant, other_tenant,
                                                                                 intro, webinar):
    fresh = ContactFactory(tenant=tenant)
    converted = ContactFactory(tenant=tenant, lead_status="converted")
    disqualified = ContactFactory(tenant=tenant, lead_status="disqualified")
    busy = ContactFactory(tenant=tenant)
    enrollment_create(tenant=tenant, sequence=webinar, contact=busy, actor=None)
    theirs = ContactFactory(tenant=other_tenant)

    response = rep_client.post(reverse("contacts:bulk"), {
        "action": "enroll", "sequence": intro.pk,
        "contact_ids": [fresh.pk, converted.pk, disqualified.pk, busy.pk, theirs.pk],
    }, HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="enrolled">1<' in body and 'data-count="skipped">3<' in body
    assert "converted lead 1" in body and "disqualified lead 1" in body and "active in another sequence 1" in body
    assert list(Enrollment.objects.filter(sequence=intro).values_list("contact_id", flat=True)) == [fresh.pk]


def test_bulk_enroll_can_keep_contacts_active_elsewhere_when_the_rep_says_so(rep_client, tenant, intro, webinar):
    busy = ContactFactory(tenant=tenant)
    enrollment_create(tenant=tenant, sequence=webinar, contact=busy, actor=None)

    page = rep_client.get(reverse("contacts:index")).content.decode()
    assert 'name="active_elsewhere"' in page and "first-touch" in page

    rep_client.post(reverse("contacts:bulk"), {"action": "enroll", "sequence": intro.pk, "contact_ids": [busy.pk],
                                               "active_elsewhere": "keep"}, HTTP_HX_REQUEST="true")
    assert Enrollment.objects.filter(sequence=intro, contact=busy).exists()


def test_list_enroll_reports_skips_and_asks_to_confirm_the_number(rep_client, tenant, intro, webinar):
    contact_list = ContactListFactory(tenant=tenant)
    members = [ContactFactory(tenant=tenant), ContactFactory(tenant=tenant, lead_status="converted"),
               ContactFactory(tenant=tenant)]
    enrollment_create(tenant=tenant, sequence=webinar, contact=members[2], actor=None)
    for c in members:
        ListMembership.objects.create(contact_list=contact_list, contact=c)

    page = rep_client.get(reverse("contacts:list-detail", args=[contact_list.pk])).content.decode()
    assert 'hx-confirm="Enroll all 3 members of this list in the chosen sequence?"' in page

    response = rep_client.post(reverse("contacts:list-enroll", args=[contact_list.pk]), {"sequence": intro.pk},
                               HTTP_HX_REQUEST="true")
    assert ("Enrolled 1, already enrolled 0, skipped 2 (converted lead 1, active in another sequence 1)."
            in response.content.decode())


def test_enrolling_from_the_profile_warns_about_another_active_sequence_and_enrolls_once_confirmed(
        rep_client, tenant, intro, webinar):
    contact = ContactFactory(tenant=tenant, first_name="Ada", last_name="Lovelace")
    enrollment_create(tenant=tenant, sequence=webinar, contact=contact, actor=None)
    url = reverse("contacts:enroll", args=[contact.pk])

    response = rep_client.post(url, {"sequence": intro.pk}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ada Lovelace is already active in sequence “Webinar intro”." in body
    assert 'name="confirm_active_elsewhere"' in body
    assert not Enrollment.objects.filter(sequence=intro).exists()

    response = rep_client.post(url, {"sequence": intro.pk, "confirm_active_elsewhere": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and Enrollment.objects.filter(sequence=intro, contact=contact).exists()


def test_enrolling_a_converted_lead_from_the_profile_is_refused_inline(rep_client, tenant, intro):
    contact = ContactFactory(tenant=tenant, lead_status="converted", first_name="Ada", last_name="Lovelace")

    response = rep_client.post(reverse("contacts:enroll", args=[contact.pk]), {"sequence": intro.pk},
                               HTTP_HX_REQUEST="true")

    assert response.status_code == 422 and "Ada Lovelace is a converted lead: not enrolled." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_the_outsider_cannot_enroll_our_contact_even_when_confirming(outsider_client, tenant, intro):
    contact = ContactFactory(tenant=tenant)
    response = outsider_client.post(reverse("contacts:enroll", args=[contact.pk]),
                                    {"sequence": intro.pk, "confirm_active_elsewhere": "1"})
    assert response.status_code == 404 and not Enrollment.objects.exists()
