"""Enrollment tells the truth: a contact the first run would end at once (a converted or
disqualified lead) is not enrolled but reported as skipped, and a contact already active
in another sequence is warned about (one) or skipped (many, by default for first-touch
sequences), with the reason in the result."""
import pytest
from django.core.exceptions import ValidationError

from sequences.models import Enrollment
from sequences.services import enrollments as service
from tests.factories import ContactFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


def _sequence(tenant, job_type="initial_outreach", name=None):
    seq = SequenceFactory(tenant=tenant, status="active", reenroll_policy="always", **({"name": name} if name else {}))
    StepFactory(sequence=seq, job_type=job_type, delay_value=1, delay_unit="days")
    StepFactory(sequence=seq, job_type="follow_up", delay_value=2, delay_unit="days")
    return seq


def _bulk(tenant, sequence, contacts, **kw):
    return service.enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=[c.pk for c in contacts],
                                           actor=None, **kw)


# --- converted and disqualified leads --------------------------------------------------

def test_bulk_enrollment_skips_converted_and_disqualified_leads_with_the_reason(tenant, other_tenant):
    sequence = _sequence(tenant)
    fresh = [ContactFactory(tenant=tenant, lead_status="new") for _ in range(2)]
    converted = [ContactFactory(tenant=tenant, lead_status="converted") for _ in range(2)]
    disqualified = ContactFactory(tenant=tenant, lead_status="disqualified")
    outsider = ContactFactory(tenant=other_tenant, lead_status="new")

    result = _bulk(tenant, sequence, fresh + converted + [disqualified, outsider])

    assert result.enrolled == 2
    assert result.skipped["converted"] == 2 and result.skipped["disqualified"] == 1
    assert result.summary() == "Enrolled 2, already enrolled 0, skipped 3 (converted lead 2, disqualified lead 1)."
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {c.pk for c in fresh}


def test_enrolling_one_converted_lead_is_refused_with_a_message_and_creates_nothing(tenant):
    sequence = _sequence(tenant)
    contact = ContactFactory(tenant=tenant, lead_status="converted", first_name="Ada", last_name="Lovelace")

    with pytest.raises(ValidationError, match="is a converted lead: not enrolled"):
        service.enrollment_create(tenant=tenant, sequence=sequence, contact=contact, actor=None)
    assert not Enrollment.objects.exists()


# --- active in another sequence ---------------------------------------------------------

def test_enrolling_one_contact_active_in_another_sequence_warns_until_confirmed(tenant):
    first, second = _sequence(tenant, name="Intro A"), _sequence(tenant, name="Intro B")
    contact = ContactFactory(tenant=tenant, first_name="Ada", last_name="Lovelace")
    service.enrollment_create(tenant=tenant, sequence=first, contact=contact, actor=None)

    with pytest.raises(service.ActiveElsewhere, match="Ada Lovelace is already active in sequence “Intro A”"):
        service.enrollment_create(tenant=tenant, sequence=second, contact=contact, actor=None)
    assert not Enrollment.objects.filter(sequence=second).exists()

    enrollment = service.enrollment_create(tenant=tenant, sequence=second, contact=contact, actor=None,
                                           allow_active_elsewhere=True)
    assert enrollment.status == "active"


def test_an_enrollment_in_another_tenant_or_a_finished_one_is_no_reason_to_warn(tenant, other_tenant):
    sequence, done = _sequence(tenant), _sequence(tenant)
    contact = ContactFactory(tenant=tenant)
    old = service.enrollment_create(tenant=tenant, sequence=done, contact=contact, actor=None)
    service.enrollment_unenroll(tenant=tenant, enrollment=old, actor=None)

    assert service.enrollment_create(tenant=tenant, sequence=sequence, contact=contact, actor=None).status == "active"


def test_bulk_enrollment_into_a_first_touch_sequence_skips_contacts_active_elsewhere_by_default(tenant):
    elsewhere, intro = _sequence(tenant), _sequence(tenant, job_type="initial_outreach")
    busy, free = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    _bulk(tenant, elsewhere, [busy])

    result = _bulk(tenant, intro, [busy, free])

    assert (result.enrolled, result.skipped["active_elsewhere"]) == (1, 1)
    assert "skipped 1 (active in another sequence 1)" in result.summary()
    assert not Enrollment.objects.filter(sequence=intro, contact=busy).exists()


def test_bulk_enrollment_into_a_follow_up_sequence_keeps_them_unless_asked_to_skip(tenant):
    elsewhere = _sequence(tenant)
    nurture = _sequence(tenant, job_type="re_engagement")
    other_nurture = _sequence(tenant, job_type="re_engagement")
    busy = ContactFactory(tenant=tenant)
    _bulk(tenant, elsewhere, [busy])

    assert _bulk(tenant, nurture, [busy]).enrolled == 1
    skipped = _bulk(tenant, other_nurture, [busy], skip_active_elsewhere=True)
    assert (skipped.enrolled, skipped.skipped["active_elsewhere"]) == (0, 1)


def test_bulk_enrollment_into_a_first_touch_sequence_can_be_told_to_keep_them(tenant):
    elsewhere, intro = _sequence(tenant), _sequence(tenant)
    busy = ContactFactory(tenant=tenant)
    _bulk(tenant, elsewhere, [busy])

    assert _bulk(tenant, intro, [busy], skip_active_elsewhere=False).enrolled == 1


def test_first_touch_means_the_first_step_is_an_initial_outreach_message(tenant):
    assert service.is_first_touch(_sequence(tenant, job_type="initial_outreach"))
    assert not service.is_first_touch(_sequence(tenant, job_type="follow_up"))
    call_first = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=call_first, channel="call_reminder", job_type="initial_outreach")
    assert not service.is_first_touch(call_first)
