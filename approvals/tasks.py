from celery import shared_task


@shared_task(name="approvals.expire_due", ignore_result=True)
def expire_due():
    """Beat, every five minutes: drafts past their sequence's review window."""
    from .services import approvals_expire_due

    approvals_expire_due()
