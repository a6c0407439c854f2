"""Deleting a step, a contact, a sequence or a tenant after the processor has run
leaves no row pointing at what is gone. The activity log, agent jobs and messages keep some
references (tenant, contact, sequence, step) without database constraints, so these
deletes rely on Django's cascades, direct or through the enrollment: if one stopped
running, these tests would find the dangling ids."""
import pytest

from agents.models import AgentJob
from contacts.models import Contact
from contacts.services.contacts import contacts_delete
from messaging.models import OutboundMessage
from scendcore.models import Tenant
from sequences.models import Activity, Sequence, Step
from sequences.services.steps import step_delete
from sequences.services.versions import draft_of

from .engine_helpers import due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


@pytest.fixture
def executed(tenant, other_tenant):
    """One executed first step in our tenant and in the outsider's."""
    ours, (first, *_) = running_sequence(tenant)
    theirs, (their_first, *_) = running_sequence(other_tenant)
    enrollment = due_enrollment(ours, first)
    outsider = due_enrollment(theirs, their_first)
    sweep_inline()
    assert Activity.objects.filter(enrollment=enrollment).count() == 2
    assert Activity.objects.filter(enrollment=outsider).count() == 2
    return enrollment, outsider


def dangling(model, field, target):
    ids = model.objects.exclude(**{f"{field}__isnull": True}).values_list(field, flat=True)
    return set(ids) - set(target.objects.values_list("pk", flat=True))


def assert_nothing_dangles():
    assert not dangling(Activity, "tenant_id", Tenant)
    assert not dangling(Activity, "contact_id", Contact)
    assert not dangling(Activity, "sequence_id", Sequence)
    assert not dangling(Activity, "step_id", Step)
    assert not dangling(AgentJob, "tenant_id", Tenant)
    assert not dangling(OutboundMessage, "tenant_id", Tenant)


def test_deleting_an_executed_step_keeps_it_in_its_version_for_the_history(executed, rep):
    """The step was executed: the delete goes to a draft, and the version the history
    points to keeps the step."""
    enrollment, outsider = executed
    executed_row = Activity.objects.get(enrollment=enrollment, kind="step_executed")
    step = Step.objects.get(pk=executed_row.step_id)

    step_delete(tenant=enrollment.tenant, step=step, actor=rep)

    assert_nothing_dangles()
    assert Activity.objects.get(pk=executed_row.pk).step_id == step.pk
    assert not Step.objects.filter(version=draft_of(step.sequence), key=step.key).exists()
    assert Activity.objects.filter(enrollment=outsider, step_id=outsider.current_step_id).exists()


def test_deleting_a_step_of_a_draft_leaves_nothing_pointing_at_it(executed, rep):
    enrollment, outsider = executed
    first = Step.objects.get(pk=Activity.objects.get(enrollment=enrollment, kind="step_executed").step_id)
    step_delete(tenant=enrollment.tenant, step=first, actor=rep)  # makes the draft
    later = Step.objects.get(version=draft_of(first.sequence), order=1)

    step_delete(tenant=enrollment.tenant, step=later, actor=rep)

    assert_nothing_dangles()
    assert Step.objects.filter(pk=first.pk).exists()


def test_deleting_a_contact_takes_its_history_jobs_and_messages_with_it(executed, rep):
    enrollment, outsider = executed

    contacts_delete(tenant=enrollment.tenant, contact_ids=[enrollment.contact_id], actor=rep)

    assert_nothing_dangles()
    assert not Activity.objects.filter(contact_id=enrollment.contact_id).exists()
    assert not OutboundMessage.objects.filter(contact_id=enrollment.contact_id).exists()
    assert Activity.objects.filter(enrollment=outsider).count() == 2
    assert OutboundMessage.objects.filter(enrollment=outsider).count() == 1


def test_deleting_a_tenant_leaves_nothing_of_it_and_everything_of_the_outsider(executed):
    enrollment, outsider = executed

    Tenant.objects.get(pk=enrollment.tenant_id).delete()

    assert_nothing_dangles()
    for model in (Activity, AgentJob, OutboundMessage):
        assert not model.objects.filter(tenant_id=enrollment.tenant_id).exists()
        assert model.objects.filter(tenant_id=outsider.tenant_id).exists()


def test_deleting_a_sequence_takes_its_enrollments_and_their_history_with_it(executed):
    # As the admin site does; the app itself archives sequences.
    enrollment, outsider = executed

    Sequence.objects.get(pk=enrollment.sequence_id).delete()

    assert_nothing_dangles()
    assert not Activity.objects.filter(sequence_id=enrollment.sequence_id).exists()
    assert not AgentJob.objects.filter(enrollment_id=enrollment.pk).exists()
    assert Activity.objects.filter(enrollment=outsider).count() == 2
