from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from contacts.models import Contact
from scendcore import credentials
from scendcore.lookups import as_id
from scendcore.tenancy import admin_required, get_for_tenant, manager_required
from sequences.models import Step

from . import selectors, services
from .access import get_agent_for_user, get_job_for_user
from .drafting import DraftRequest, draft
from .forms import AgentForm
from .models import Provider


@manager_required
def agent_list(request):
    return render(request, "agents/agent_list.html", {"agents": selectors.agent_list(tenant=request.tenant)})


@admin_required
def agent_create(request):
    form = AgentForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            agent = services.agent_create(tenant=request.tenant, actor=request.user, **form.service_fields())
            messages.success(request, f"Agent “{agent.name}” created.")
            return redirect("agents:detail", agent_id=agent.pk)
        return render(request, "agents/agent_form.html", {"form": form}, status=422)
    return render(request, "agents/agent_form.html", {"form": form})


@admin_required
def agent_edit(request, agent_id):
    agent = get_agent_for_user(request, agent_id)
    form = AgentForm(request.POST or None, instance=agent)
    context = {"form": form, "agent": agent,
               "api_key_env": credentials.env_reference_status(agent.api_key_env, label="API key")}
    if request.method == "POST":
        if form.is_valid():
            services.agent_update(tenant=request.tenant, agent=agent, actor=request.user, **form.service_fields())
            messages.success(request, "Agent saved.")
            return redirect("agents:detail", agent_id=agent.pk)
        return render(request, "agents/agent_form.html", context, status=422)
    return render(request, "agents/agent_form.html", context)


@manager_required
def agent_detail(request, agent_id):
    agent = get_agent_for_user(request, agent_id)
    preview, preview_error = None, ""
    contact_id, step_id = request.GET.get("contact", ""), request.GET.get("step", "")
    query = request.GET.get("q", "").replace("\x00", "")[:200]  # PostgreSQL text holds no NUL
    if as_id(contact_id) and as_id(step_id):
        contact = get_for_tenant(Contact.objects.all(), request, pk=as_id(contact_id))
        step = get_for_tenant(Step.objects.select_related("sequence"), request, pk=as_id(step_id))
        if agent.provider == Provider.TEMPLATE:
            preview = draft(DraftRequest(agent=agent, tenant=request.tenant, contact=contact, step=step))
        else:
            preview_error = "Previews are written by the built-in template provider; this agent calls a model."
    context = {
        "agent": agent, "preview": preview, "preview_error": preview_error,
        "api_key_env": credentials.env_reference_status(agent.api_key_env, label="API key"),
        "jobs": selectors.agent_jobs_recent(tenant=request.tenant, agent=agent),
        "failed_jobs": selectors.agent_jobs_failed(tenant=request.tenant, agent=agent),
        "preview_contacts": selectors.preview_contacts(tenant=request.tenant, membership=request.membership,
                                                       query=query),
        "q": query,
        "preview_steps": selectors.preview_steps(tenant=request.tenant, agent=agent),
        "chosen_contact": contact_id, "chosen_step": step_id,
    }
    template = "agents/agent_detail.html"
    if request.htmx:
        # The search box refreshes the contact picker; the form itself, the preview.
        picker = request.htmx.target == "preview-contact-picker"
        template += "#preview-contact-picker" if picker else "#draft-preview"
    return render(request, template, context)


@manager_required
@require_POST
def agent_job_retry(request, job_id):
    job = get_job_for_user(request, job_id)
    if services.agent_job_retry(tenant=request.tenant, job=job, actor=request.user):
        messages.success(request, f"Job {job.pk} queued to run again.")
    else:
        messages.info(request, f"Job {job.pk} is not failed; nothing to retry.")
    if job.agent_id:
        return redirect("agents:detail", agent_id=job.agent_id)
    return redirect("agents:list")
