"""An agent's API key is a secret the tenant enters: stored encrypted, sent only as the
bearer token, never shown back. A tenant can never make the worker read a server
environment variable, in the app's pages or in the Django admin."""
import importlib
import json

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_job_run
from scendcore.models import AuditEntry
from tests.factories import AgentFactory, UserFactory

from .test_jobs import _started_job
from .test_views import VALID

pytestmark = pytest.mark.django_db


def _llm_form(llm, **extra):
    return {**VALID, "provider": "openai_compatible", "base_url": llm.base_url, "model": "m",
            "timeout_seconds": "2", **extra}


def _run_job(tenant, agent):
    job, _ = _started_job(tenant, agent)
    agent_job_run(tenant_id=tenant.pk, job_id=job.pk)
    job.refresh_from_db()
    return job


def _sent_headers(llm):
    return [json.dumps(r["headers"]) for r in llm.requests]


def test_a_tenant_admin_cannot_send_a_server_environment_variable_to_their_model_host(
        tenant, admin_client_, llm, server_secret):
    response = admin_client_.post(reverse("agents:create"), _llm_form(llm, api_key_env="EMAIL_HOST_PASSWORD"))

    assert response.status_code == 302
    _run_job(tenant, Agent.objects.get(tenant=tenant, name="Nora"))
    assert len(llm.requests) == 1, "the job reached the tenant's model server"
    assert not any(server_secret in headers for headers in _sent_headers(llm))
    assert "Authorization" not in llm.requests[0]["headers"]


def _staff(*, superuser=False):
    user = UserFactory(is_staff=True, is_superuser=superuser)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["change_agent", "view_agent"]))
    return user


def _admin_form(rf, user, agent, **changes):
    request = rf.post("/")
    request.user = user
    form_class = admin.site._registry[Agent].get_form(request, agent, change=True)
    data = {k: v for k, v in model_to_dict(agent).items() if v is not None}
    data.update(tenant=agent.tenant_id, provider_settings=json.dumps(agent.provider_settings),
                fallbacks=json.dumps(agent.fallbacks))
    data.update(changes)
    return form_class(data, instance=agent)


def test_a_staff_user_cannot_name_an_environment_variable_in_the_django_admin(tenant, llm, server_secret, rf):
    agent = AgentFactory(tenant=tenant, provider="openai_compatible",
                         provider_settings={"base_url": llm.base_url, "model": "m", "max_retries": 0})
    settings_with_env = json.dumps({**agent.provider_settings, "api_key_env": "EMAIL_HOST_PASSWORD"})
    form = _admin_form(rf, _staff(), agent, provider_settings=settings_with_env, api_key_env="EMAIL_HOST_PASSWORD")
    if form.is_valid():
        form.save()

    _run_job(tenant, Agent.objects.get(pk=agent.pk))
    assert len(llm.requests) == 1
    assert not any(server_secret in headers for headers in _sent_headers(llm))


def test_the_api_key_is_sent_as_the_bearer_token_stored_encrypted_and_never_shown_back(
        tenant, admin_client_, llm):
    admin_client_.post(reverse("agents:create"), _llm_form(llm, api_key="sk-live-4242"))
    agent = Agent.objects.get(tenant=tenant, name="Nora")

    _run_job(tenant, agent)
    assert llm.requests[0]["headers"]["Authorization"] == "Bearer sk-live-4242"
    assert "sk-live-4242" not in str(Agent.objects.filter(pk=agent.pk).values().get())
    edit = admin_client_.get(reverse("agents:edit", kwargs={"agent_id": agent.pk})).content.decode()
    detail = admin_client_.get(reverse("agents:detail", kwargs={"agent_id": agent.pk})).content.decode()
    for page in (edit, detail):
        assert "sk-live-4242" not in page and agent.api_key_encrypted not in page
    assert "An API key is stored" in edit
    audit = [entry.changes for entry in AuditEntry.objects.filter(object_type="agent")]
    assert audit and "sk-live" not in json.dumps(audit)


def test_an_empty_key_on_edit_keeps_the_stored_one_and_remove_clears_it(tenant, admin_client_, llm):
    admin_client_.post(reverse("agents:create"), _llm_form(llm, api_key="sk-first"))
    agent = Agent.objects.get(tenant=tenant, name="Nora")
    url = reverse("agents:edit", kwargs={"agent_id": agent.pk})

    assert admin_client_.post(url, _llm_form(llm, api_key="", tone="brisk")).status_code == 302
    _run_job(tenant, Agent.objects.get(pk=agent.pk))
    assert llm.requests[-1]["headers"]["Authorization"] == "Bearer sk-first"

    both = admin_client_.post(url, _llm_form(llm, api_key="sk-other", clear_api_key="on"))
    assert both.status_code == 422 and "Either type a new one or remove the stored one" in both.content.decode()

    assert admin_client_.post(url, _llm_form(llm, clear_api_key="on")).status_code == 302
    agent.refresh_from_db()
    assert agent.api_key_encrypted == ""
    assert "An API key is stored" not in admin_client_.get(url).content.decode()
    entry = AuditEntry.objects.filter(object_type="agent", action="updated").order_by("-id").first()
    assert entry.changes["api_key"] == ["stored", "none"]


def test_the_outsider_cannot_change_our_agents_key(tenant, outsider_client, llm):
    agent = AgentFactory(tenant=tenant, name="Ours")
    url = reverse("agents:edit", kwargs={"agent_id": agent.pk})
    assert outsider_client.post(url, _llm_form(llm, api_key="sk-theirs")).status_code == 404
    agent.refresh_from_db()
    assert agent.api_key_encrypted == ""


def test_the_django_admin_never_shows_the_stored_key(tenant, client):
    from scendcore import credentials

    agent = AgentFactory(tenant=tenant, api_key_encrypted=credentials.encrypt("sk-admin-secret"))
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    html = client.get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    assert "sk-admin-secret" not in html and agent.api_key_encrypted not in html


def _carry_forward_env_references():
    migration = importlib.import_module("agents.migrations.0007_agent_api_key_secret")
    migration.move_env_references_out_of_provider_settings(apps, None)


def test_an_environment_reference_saved_before_stops_working_with_a_truthful_error(
        tenant, admin_client_, llm, server_secret):
    agent = AgentFactory(tenant=tenant, provider="openai_compatible", provider_settings={
        "base_url": llm.base_url, "model": "m", "max_retries": 0, "api_key_env": "EMAIL_HOST_PASSWORD"})
    _carry_forward_env_references()

    job = _run_job(tenant, Agent.objects.get(pk=agent.pk))

    assert llm.requests == []
    assert job.status == "failed"
    assert "EMAIL_HOST_PASSWORD" in job.error and "not made available to workspaces" in job.error
    edit = admin_client_.get(reverse("agents:edit", kwargs={"agent_id": agent.pk})).content.decode()
    assert "not made available to workspaces" in edit
    agent.refresh_from_db()
    assert "api_key_env" not in agent.provider_settings


def test_an_operator_may_give_an_agent_an_allow_listed_reserved_variable(tenant, llm, rf, settings, monkeypatch):
    settings.TENANT_SECRET_ENV_NAMES = ["SCENDCORE_TENANT_ACME_LLM_KEY"]
    monkeypatch.setenv("SCENDCORE_TENANT_ACME_LLM_KEY", "sk-from-operator")
    agent = AgentFactory(tenant=tenant, provider="openai_compatible",
                         provider_settings={"base_url": llm.base_url, "model": "m", "max_retries": 0})

    refused = _admin_form(rf, _staff(superuser=True), agent, api_key_env="EMAIL_HOST_PASSWORD")
    assert not refused.is_valid() and "api_key_env" in refused.errors
    allowed = _admin_form(rf, _staff(superuser=True), agent, api_key_env="SCENDCORE_TENANT_ACME_LLM_KEY")
    assert allowed.is_valid(), allowed.errors
    allowed.save()

    _run_job(tenant, Agent.objects.get(pk=agent.pk))
    assert llm.requests[0]["headers"]["Authorization"] == "Bearer sk-from-operator"
