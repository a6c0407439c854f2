from celery import shared_task


@shared_task(name="contacts.import_contacts", ignore_result=True)
def import_contacts(tenant_id, import_id):
    """Run one confirmed CSV import (contacts.services.imports)."""
    from .services.imports import import_run

    import_run(tenant_id=tenant_id, import_id=import_id)


@shared_task(name="contacts.auto_enroll_all", ignore_result=True)
def auto_enroll_all():
    """Evaluate every enabled auto-enrollment rule set (beat, every 10 minutes)."""
    from sequences.services.auto_enroll import auto_enroll_all as run_all

    run_all()
