"""Agents and jobs of the current tenant, or 404 (missing and foreign look the same)."""
from scendcore.tenancy import get_for_tenant

from .models import Agent, AgentJob


def get_agent_for_user(request, agent_id):
    return get_for_tenant(Agent.objects.all(), request, pk=agent_id)


def get_job_for_user(request, job_id):
    return get_for_tenant(AgentJob.objects.select_related("agent"), request, pk=job_id)
