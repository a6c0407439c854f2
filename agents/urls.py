from django.urls import path

from . import views

app_name = "agents"

urlpatterns = [
    path("settings/agents/", views.agent_list, name="list"),
    path("settings/agents/new/", views.agent_create, name="create"),
    path("settings/agents/<int:agent_id>/", views.agent_detail, name="detail"),
    path("settings/agents/<int:agent_id>/edit/", views.agent_edit, name="edit"),
    path("agents/jobs/<int:job_id>/retry", views.agent_job_retry, name="job-retry"),
]
