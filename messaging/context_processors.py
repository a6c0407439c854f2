from .models import Mailbox, MailboxStatus


def paused_mailboxes(request):
    """The banner telling a tenant's admins that the circuit breaker paused a mailbox."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_admin:
        return {}
    paused = Mailbox.objects.filter(tenant=request.tenant, status=MailboxStatus.PAUSED).exclude(pause_reason="")
    return {"paused_mailboxes": list(paused.only("id", "from_email", "pause_reason"))}
