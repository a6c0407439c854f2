"""Agent management pages: admins edit, managers view, everyone else's tenant gets 404."""
import pytest
from django.urls import reverse

from agents.models import Agent, AgentJob
from scendcore.models import AuditEntry
from tests.factories import AgentFactory, ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Nora", "sender_name": "Nora North", "sender_title": "SDR", "company_name": "Scendly",
    "company_description": "books meetings", "tone": "warm", "avoid": "guarantees", "autonomy": "auto_after_n",
    "auto_after_approved": "5", "provider": "template", "is_active": "on",
    "fallbacks_text": "first_name=there\ncustom.industry=your industry",
}


def test_an_admin_creates_an_agent_and_it_is_audited(tenant, admin_client_, admin):
    response = admin_client_.post(reverse("agents:create"), VALID)

    agent = Agent.objects.get(tenant=tenant, name="Nora")
    assert response.status_code == 302
    assert agent.fallbacks == {"first_name": "there", "custom.industry": "your industry"}
    assert (agent.autonomy, agent.auto_after_approved) == ("auto_after_n", 5)
    assert AuditEntry.objects.filter(tenant=tenant, actor=admin, object_type="agent", action="created").exists()


def test_an_openai_agent_without_base_url_or_model_is_422_with_inline_errors(admin_client_):
    data = {**VALID, "provider": "openai_compatible", "api_key": "sk-typed-in"}
    response = admin_client_.post(reverse("agents:create"), data)
    body = response.content.decode()
    assert response.status_code == 422
    assert "Required for the OpenAI-compatible provider." in body
    assert "sk-typed-in" not in body  # a write-only input is not echoed back on errors


def test_an_unknown_fallback_field_is_refused(admin_client_):
    response = admin_client_.post(reverse("agents:create"), {**VALID, "fallbacks_text": "favourite_colour=blue"})
    assert response.status_code == 422
    assert "is not a merge field" in response.content.decode()


def test_editing_records_what_changed(tenant, admin_client_):
    agent = AgentFactory(tenant=tenant, name="Old")
    data = {**VALID, "name": "New", "provider": "openai_compatible", "base_url": "https://llm.scendly.example/v1",
            "model": "llama3", "api_key": "sk-new", "temperature": "0.3"}
    assert admin_client_.post(reverse("agents:edit", kwargs={"agent_id": agent.pk}), data).status_code == 302
    agent.refresh_from_db()
    assert agent.provider_settings == {"base_url": "https://llm.scendly.example/v1", "model": "llama3",
                                       "temperature": 0.3}
    entry = AuditEntry.objects.get(object_type="agent", object_id=str(agent.pk), action="updated")
    assert entry.changes["name"] == ["Old", "New"]
    assert entry.changes["api_key"] == ["none", "stored"]


def test_managers_may_view_but_not_change_agents(tenant, manager_client):
    agent = AgentFactory(tenant=tenant, name="Viewable")
    assert "Viewable" in manager_client.get(reverse("agents:list")).content.decode()
    assert manager_client.get(reverse("agents:detail", kwargs={"agent_id": agent.pk})).status_code == 200
    assert manager_client.get(reverse("agents:create")).status_code == 403
    assert manager_client.post(reverse("agents:edit", kwargs={"agent_id": agent.pk}), VALID).status_code == 403


def test_the_preview_shows_what_the_agent_would_write_escaped(tenant, manager_client):
    agent = AgentFactory(tenant=tenant)
    contact = ContactFactory(tenant=tenant, first_name="<b>Dana</b>", company="Globex")
    step = StepFactory(sequence=SequenceFactory(tenant=tenant, agent=agent), angle="their hiring plan")
    url = reverse("agents:detail", kwargs={"agent_id": agent.pk})

    response = manager_client.get(url, {"contact": contact.pk, "step": step.pk}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert body.lstrip().startswith('<div id="draft-preview">')
    assert "Hi &lt;b&gt;Dana&lt;/b&gt;," in body and "<b>Dana</b>" not in body
    assert "your hiring plan" in body


def test_outsider_gets_404_for_our_agent_pages_and_job_retry(tenant, outsider_client):
    agent = AgentFactory(tenant=tenant)
    enrollment = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant, agent=agent))
    job = AgentJob.objects.create(tenant=tenant, agent=agent, enrollment=enrollment, status="failed")
    for url in (reverse("agents:detail", kwargs={"agent_id": agent.pk}),
                reverse("agents:edit", kwargs={"agent_id": agent.pk})):
        assert outsider_client.get(url).status_code == 404
        assert outsider_client.post(url, VALID).status_code == 404
    assert outsider_client.post(reverse("agents:job-retry", kwargs={"job_id": job.pk})).status_code == 404
    job.refresh_from_db()
    assert job.status == "failed"


def test_a_preview_with_another_tenants_contact_is_404(tenant, other_tenant, manager_client):
    agent = AgentFactory(tenant=tenant)
    step = StepFactory(sequence=SequenceFactory(tenant=tenant, agent=agent))
    foreign = ContactFactory(tenant=other_tenant)
    url = reverse("agents:detail", kwargs={"agent_id": agent.pk})
    assert manager_client.get(url, {"contact": foreign.pk, "step": step.pk}).status_code == 404


def test_the_preview_finds_any_contact_by_a_server_side_search_of_our_tenant(tenant, other_tenant, manager_client):
    from contacts.models import Contact

    agent = AgentFactory(tenant=tenant)
    Contact.objects.bulk_create([Contact(tenant=tenant, email=f"a{i}@filler.example", first_name="Aaron")
                                 for i in range(210)])
    ContactFactory(tenant=tenant, first_name="Zebulon", last_name="Quist")
    ContactFactory(tenant=other_tenant, first_name="Zebulon", last_name="Outsider")
    url = reverse("agents:detail", kwargs={"agent_id": agent.pk})

    assert "Zebulon" not in manager_client.get(url).content.decode()  # past the first 200

    found = manager_client.get(url, {"q": "zebulon"}, headers={"HX-Request": "true",
                                                              "HX-Target": "preview-contact-picker"})
    body = found.content.decode()
    assert body.lstrip().startswith('<div id="preview-contact-picker">')
    assert "Zebulon Quist" in body and "Outsider" not in body and "Aaron" not in body
    page = manager_client.get(url, {"q": "zebulon"}).content.decode()
    assert 'id="preview-q"' in page and "Zebulon Quist" in page
