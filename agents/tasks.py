from celery import shared_task


@shared_task(name="agents.run_agent_job", ignore_result=True)
def run_agent_job(tenant_id, job_id):
    from .services import agent_job_run

    agent_job_run(tenant_id=tenant_id, job_id=job_id)


@shared_task(name="agents.retry_due_jobs", ignore_result=True)
def retry_due_jobs():
    """Beat, every minute: hand jobs whose backoff has passed to workers."""
    from .services import agent_jobs_due

    for tenant_id, job_id in agent_jobs_due():
        run_agent_job.delay(tenant_id, job_id)
