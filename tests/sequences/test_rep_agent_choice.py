"""Which agents a rep may attach: by default only agents that send every draft to review.
The builder, the API, templates and duplication all ask the same policy; admins change
it on the Settings page."""
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from scendcore.api import api_token_create
from scendcore.models import AuditEntry
from sequences.models import Sequence
from sequences.services.sequences import sequence_create_from_template
from tests.factories import AgentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
REFUSAL = "sends drafts without review; in this workspace only managers and admins may attach such an agent"


@pytest.fixture
def reviewer(tenant):
    return AgentFactory(tenant=tenant, name="Morgan (reviews)", autonomy="review_all")


@pytest.fixture
def auto(tenant):
    return AgentFactory(tenant=tenant, name="Jamie (auto)", autonomy="auto_send")


@pytest.fixture
def reps_sequence(tenant, rep, reviewer):
    sequence = SequenceFactory(tenant=tenant, name="Rita's cadence", owner=rep, agent=reviewer)
    StepFactory(sequence=sequence)
    return sequence


def settings_post(sequence, agent):
    return {"name": sequence.name, "agent": agent.pk if agent else "", "sender_profile": sequence.sender_profile_id,
            "reenroll_policy": "never", "rejection_policy": "pause"}


def settings_url(sequence):
    return reverse("sequences:sequence-settings", args=[sequence.pk])


def test_a_rep_attaching_an_auto_sending_agent_gets_422_and_the_sequence_keeps_its_agent(
    rep_client, reps_sequence, auto, reviewer
):
    response = rep_client.post(settings_url(reps_sequence), settings_post(reps_sequence, auto), **HX)

    assert response.status_code == 422
    assert REFUSAL in response.content.decode()
    reps_sequence.refresh_from_db()
    assert reps_sequence.agent == reviewer


@pytest.mark.parametrize("autonomy", ["auto_send", "auto_after_n"])
def test_every_agent_that_may_send_on_its_own_is_refused_to_a_rep(rep_client, reps_sequence, tenant, autonomy):
    agent = AgentFactory(tenant=tenant, autonomy=autonomy)
    response = rep_client.post(settings_url(reps_sequence), settings_post(reps_sequence, agent))
    assert response.status_code == 422


def test_a_rep_may_attach_an_agent_that_reviews_every_draft(rep_client, reps_sequence, tenant):
    other_reviewer = AgentFactory(tenant=tenant, autonomy="review_all")
    response = rep_client.post(settings_url(reps_sequence), settings_post(reps_sequence, other_reviewer), **HX)
    assert response.status_code == 200
    reps_sequence.refresh_from_db()
    assert reps_sequence.agent == other_reviewer


def test_a_rep_keeps_an_auto_sending_agent_a_manager_attached_when_saving_other_settings(
    rep_client, manager, reps_sequence, auto
):
    Sequence.objects.filter(pk=reps_sequence.pk).update(agent=auto)
    data = {**settings_post(reps_sequence, auto), "name": "Renamed"}
    assert rep_client.post(settings_url(reps_sequence), data, **HX).status_code == 200
    reps_sequence.refresh_from_db()
    assert (reps_sequence.name, reps_sequence.agent) == ("Renamed", auto)


def test_a_manager_may_attach_an_auto_sending_agent(manager_client, reps_sequence, auto):
    response = manager_client.post(settings_url(reps_sequence), settings_post(reps_sequence, auto), **HX)
    assert response.status_code == 200
    reps_sequence.refresh_from_db()
    assert reps_sequence.agent == auto


def test_the_agent_choices_a_rep_sees_say_which_agents_they_may_use(rep_client, reps_sequence, auto, reviewer):
    response = rep_client.get(reverse("sequences:sequence-detail", args=[reps_sequence.pk]))
    choices = dict(response.context["settings_form"].fields["agent"].choices)

    assert choices[auto.pk] == "Jamie (auto) — sends without review: managers only"
    assert choices[reviewer.pk] == "Morgan (reviews)"


def test_a_managers_view_of_a_reps_sequence_says_its_drafts_are_still_reviewed(manager_client, reps_sequence):
    page = manager_client.get(reverse("sequences:sequence-detail", args=[reps_sequence.pk])).content.decode()
    assert "Drafts of this sequence always go to review" in page


def test_an_outsider_can_neither_post_the_settings_nor_have_their_agent_attached(
    client, rep, outsider, reps_sequence, auto, reviewer, other_tenant
):
    client.force_login(outsider)
    assert client.post(settings_url(reps_sequence), settings_post(reps_sequence, auto)).status_code == 404

    foreign = AgentFactory(tenant=other_tenant, autonomy="review_all")
    client.force_login(rep)
    assert client.post(settings_url(reps_sequence), settings_post(reps_sequence, foreign)).status_code == 422
    reps_sequence.refresh_from_db()
    assert reps_sequence.agent == reviewer


def test_the_api_refuses_a_rep_an_auto_sending_agent_with_the_field_named(client, tenant, rep, reps_sequence, auto):
    key = api_token_create(tenant=tenant, user=rep, name="CRM")

    response = client.patch(reverse("api:sequence", args=[reps_sequence.pk]), data=json.dumps({"agent_id": auto.pk}),
                            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 422
    assert REFUSAL in " ".join(response.json()["errors"]["agent"])
    reps_sequence.refresh_from_db()
    assert reps_sequence.agent != auto


def test_a_rep_duplicating_a_managers_auto_sending_sequence_gets_a_copy_without_that_agent(
    rep_client, tenant, manager, auto
):
    original = SequenceFactory(tenant=tenant, name="House cadence", owner=manager, agent=auto)

    response = rep_client.post(reverse("sequences:sequence-duplicate", args=[original.pk]), follow=True)

    copy = Sequence.objects.get(tenant=tenant, name="Copy of House cadence")
    assert copy.agent is None
    assert "was not copied" in response.content.decode()
    entry = AuditEntry.objects.get(tenant=tenant, object_type="sequence", object_id=str(copy.pk))
    assert entry.changes["agent_not_copied"] == auto.pk


def test_a_manager_duplicating_keeps_the_agent(manager_client, tenant, manager, auto):
    original = SequenceFactory(tenant=tenant, name="House cadence", owner=manager, agent=auto)
    manager_client.post(reverse("sequences:sequence-duplicate", args=[original.pk]))
    assert Sequence.objects.get(tenant=tenant, name="Copy of House cadence").agent == auto


def test_a_sequence_made_from_a_template_for_a_rep_never_carries_an_auto_sending_agent(tenant, rep, auto, reviewer):
    with pytest.raises(ValidationError) as refused:
        sequence_create_from_template(tenant=tenant, key="cold_outreach", actor=rep, agent=auto)
    assert REFUSAL in " ".join(refused.value.message_dict["agent"])

    made = sequence_create_from_template(tenant=tenant, key="cold_outreach", actor=rep, agent=reviewer)
    assert made.agent == reviewer


def test_with_the_policy_on_a_rep_may_attach_an_auto_sending_agent(rep_client, tenant, reps_sequence, auto):
    tenant.reps_may_auto_send = True
    tenant.save(update_fields=["reps_may_auto_send"])

    response = rep_client.post(settings_url(reps_sequence), settings_post(reps_sequence, auto), **HX)

    assert response.status_code == 200
    reps_sequence.refresh_from_db()
    assert reps_sequence.agent == auto


def test_an_admin_turns_the_policy_on_on_the_settings_page_and_the_change_is_audited(
    admin_client_, admin, tenant
):
    from tests.scendcore.test_settings_page import VALID

    response = admin_client_.post(reverse("tenant-settings"), {**VALID, "reps_may_auto_send": "on"})

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.reps_may_auto_send is True
    entry = AuditEntry.objects.get(tenant=tenant, object_type="tenant", actor=admin)
    assert entry.changes["reps_may_auto_send"] == [False, True]


def test_a_manager_cannot_change_the_policy(manager_client, tenant):
    from tests.scendcore.test_settings_page import VALID

    assert manager_client.post(reverse("tenant-settings"), {**VALID, "reps_may_auto_send": "on"}).status_code == 403
    tenant.refresh_from_db()
    assert tenant.reps_may_auto_send is False
