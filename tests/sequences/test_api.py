"""The JSON API: bearer tokens, tenancy, and errors as JSON with field names."""
import json

import pytest
from django.urls import reverse

from scendcore.api import api_token_create
from sequences.models import Enrollment
from tests.factories import ContactFactory, ContactListFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(tenant, rep):
    return api_token_create(tenant=tenant, user=rep, name="CRM sync")


@pytest.fixture
def outsider_token(other_tenant, outsider):
    return api_token_create(tenant=other_tenant, user=outsider, name="theirs")


def call(client, method, url, key, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if body is not None and method != "get":
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(url, **kwargs)


@pytest.fixture
def active_sequence(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=sequence)
    return sequence


def test_a_request_without_a_token_gets_401_as_json(client, db):
    response = client.get(reverse("api:sequences"))
    assert response.status_code == 401
    assert "errors" in response.json()


def test_a_wrong_token_gets_401(client, db):
    assert call(client, "get", reverse("api:sequences"), "sc_nope").status_code == 401


def test_creating_a_sequence_from_a_template_returns_its_steps(client, token):
    response = call(client, "post", reverse("api:sequences"), token, {"template": "cold_outreach"})
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft"
    assert [s["order"] for s in data["steps"]] == [1, 2, 3]


def test_creating_a_sequence_without_a_name_names_the_field(client, token):
    response = call(client, "post", reverse("api:sequences"), token, {"name": "  "})
    assert response.status_code == 422
    assert "name" in response.json()["errors"]


def test_a_body_that_is_not_json_is_a_clear_error(client, token):
    response = client.post(reverse("api:sequences"), data="{nope", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["errors"]["__all__"][0]


def test_patch_reports_every_bad_field_by_name(client, token, active_sequence):
    url = reverse("api:sequence", args=[active_sequence.pk])
    response = call(client, "patch", url, token,
                    {"stop_on_reply": "yes", "reenroll_policy": "sometimes", "colour": "blue"})
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"stop_on_reply", "reenroll_policy", "colour"}
    active_sequence.refresh_from_db()
    assert active_sequence.stop_on_reply is True


def test_patch_changes_settings_and_bumps_the_version(client, token, active_sequence):
    url = reverse("api:sequence", args=[active_sequence.pk])
    response = call(client, "patch", url, token, {"stop_on_reply": False, "reenroll_after_days": 45})
    assert response.status_code == 200, response.content
    active_sequence.refresh_from_db()
    assert (active_sequence.stop_on_reply, active_sequence.reenroll_after_days) == (False, 45)
    assert response.json()["version"] == active_sequence.version


def test_test_mode_is_read_and_set_through_the_api_but_not_on_another_tenants_sequence(
        client, token, outsider_token, active_sequence):
    url = reverse("api:sequence", args=[active_sequence.pk])
    assert call(client, "get", url, token).json()["test_mode"] is False

    response = call(client, "patch", url, token, {"test_mode": True})

    assert response.status_code == 200, response.content
    assert response.json()["test_mode"] is True
    active_sequence.refresh_from_db()
    assert active_sequence.test_mode is True
    assert call(client, "patch", url, token, {"test_mode": "yes"}).status_code == 422
    assert call(client, "patch", url, outsider_token, {"test_mode": False}).status_code == 404
    active_sequence.refresh_from_db()
    assert active_sequence.test_mode is True


def test_patch_refuses_another_tenants_agent(client, token, active_sequence, other_tenant):
    from tests.factories import AgentFactory

    theirs = AgentFactory(tenant=other_tenant)
    response = call(client, "patch", reverse("api:sequence", args=[active_sequence.pk]), token,
                    {"agent_id": theirs.pk})
    assert response.status_code == 422
    assert "agent_id" in response.json()["errors"]


def test_enroll_by_email_reports_counts(client, token, tenant, active_sequence):
    ContactFactory(tenant=tenant, email="Ada@Example.com")
    ContactFactory(tenant=tenant, email="dnc@example.com", do_not_contact=True)
    response = call(client, "post", reverse("api:sequence-enroll", args=[active_sequence.pk]), token,
                    {"emails": ["ada@example.com", "dnc@example.com"]})
    assert response.status_code == 200, response.content
    assert response.json()["enrolled"] == 1
    assert sum(response.json()["skipped"].values()) == 1


def test_enroll_says_what_to_do_with_contacts_active_in_another_sequence(client, token, tenant):
    from sequences.services.enrollments import enrollment_create

    intro = SequenceFactory(tenant=tenant, status="active", name="Intro")
    StepFactory(sequence=intro, job_type="initial_outreach")
    webinar = SequenceFactory(tenant=tenant, status="active", name="Webinar")
    StepFactory(sequence=webinar, job_type="initial_outreach")
    busy = ContactFactory(tenant=tenant)
    enrollment_create(tenant=tenant, sequence=webinar, contact=busy, actor=None)
    url = reverse("api:sequence-enroll", args=[intro.pk])

    by_default = call(client, "post", url, token, {"contact_ids": [busy.pk]})
    assert by_default.json()["skipped"] == {"active_elsewhere": 1}  # a first-touch sequence skips them
    bad = call(client, "post", url, token, {"contact_ids": [busy.pk], "active_elsewhere": "maybe"})
    assert bad.status_code == 422 and "active_elsewhere" in bad.json()["errors"]
    kept = call(client, "post", url, token, {"contact_ids": [busy.pk], "active_elsewhere": "keep"})
    assert kept.status_code == 200 and kept.json()["enrolled"] == 1
    assert Enrollment.objects.filter(sequence=intro, contact=busy).exists()


def test_enroll_refuses_another_tenants_contacts_by_name(client, token, active_sequence, other_tenant):
    theirs = ContactFactory(tenant=other_tenant)
    response = call(client, "post", reverse("api:sequence-enroll", args=[active_sequence.pk]), token,
                    {"contact_ids": [theirs.pk]})
    assert response.status_code == 422
    assert "contact_ids" in response.json()["errors"]
    assert not Enrollment.objects.filter(contact=theirs).exists()


def test_enroll_a_whole_list(client, token, tenant, active_sequence):
    contact_list = ContactListFactory(tenant=tenant)
    contact_list.contacts.add(*ContactFactory.create_batch(3, tenant=tenant))
    response = call(client, "post", reverse("api:sequence-enroll", args=[active_sequence.pk]), token,
                    {"list_id": contact_list.pk})
    assert response.json()["enrolled"] == 3


def test_pause_then_resume(client, token, active_sequence):
    assert call(client, "post", reverse("api:sequence-pause", args=[active_sequence.pk]), token).json()["status"] == "paused"
    assert call(client, "post", reverse("api:sequence-resume", args=[active_sequence.pk]), token).json()["status"] == "active"


def test_pausing_a_draft_is_refused_with_a_message(client, token, tenant):
    draft = SequenceFactory(tenant=tenant)
    response = call(client, "post", reverse("api:sequence-pause", args=[draft.pk]), token)
    assert response.status_code == 422
    assert response.json()["errors"]


def test_analytics_counts_enrollments_and_steps(client, token, tenant, active_sequence):
    ContactFactory(tenant=tenant, email="x@example.com")
    call(client, "post", reverse("api:sequence-enroll", args=[active_sequence.pk]), token, {"emails": ["x@example.com"]})
    data = call(client, "get", reverse("api:sequence-analytics", args=[active_sequence.pk]), token).json()
    assert data["enrollments"]["active"] + data["enrollments"]["completed"] == 1
    assert [s["order"] for s in data["steps"]] == [1]


@pytest.mark.parametrize("name,method", [
    ("api:sequence", "get"), ("api:sequence", "patch"), ("api:sequence-enroll", "post"),
    ("api:sequence-analytics", "get"), ("api:sequence-pause", "post"), ("api:sequence-resume", "post"),
])
def test_an_outsiders_token_gets_404_for_our_sequence(client, outsider_token, active_sequence, name, method):
    response = call(client, method, reverse(name, args=[active_sequence.pk]), outsider_token, {})
    assert response.status_code == 404
    active_sequence.refresh_from_db()
    assert active_sequence.status == "active"


def test_an_outsider_does_not_see_our_sequences_in_the_list(client, outsider_token, active_sequence):
    data = call(client, "get", reverse("api:sequences"), outsider_token).json()
    assert data["sequences"] == []


def test_a_token_stops_working_when_its_user_leaves_the_workspace(client, token, rep, tenant):
    rep.memberships.filter(tenant=tenant).delete()
    assert call(client, "get", reverse("api:sequences"), token).status_code == 401


def test_session_requests_keep_csrf_protection(rep, active_sequence):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(rep)
    response = strict.post(reverse("api:sequence-pause", args=[active_sequence.pk]))
    assert response.status_code == 403
    active_sequence.refresh_from_db()
    assert active_sequence.status == "active"
