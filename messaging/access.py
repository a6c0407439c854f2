"""Tenant objects for the current user, or 404 (the same for missing and foreign)."""
from django.db.models import Q

from contacts.visibility import contact_scope
from scendcore.tenancy import get_for_tenant

from .models import InboundQuarantine, Mailbox, MailboxPool, OutboundMessage, Task


def get_mailbox_for_user(request, mailbox_id):
    return get_for_tenant(Mailbox.objects.all(), request, pk=mailbox_id)


def get_pool_for_user(request, pool_id):
    return get_for_tenant(MailboxPool.objects.all(), request, pk=pool_id)


def get_message_for_user(request, message_id):
    queryset = OutboundMessage.objects.filter(contact_scope(request.membership, path="contact__")).select_related(
        "contact", "mailbox", "enrollment__sequence", "step")
    return get_for_tenant(queryset, request, pk=message_id)


def get_task_for_user(request, task_id):
    """Managers act on any task of the workspace; reps on their own and unassigned ones,
    of contacts they may see."""
    queryset = Task.objects.select_related("contact", "owner", "enrollment__sequence")
    if not request.membership.is_manager:
        queryset = queryset.filter(Q(owner=request.user) | Q(owner__isnull=True)).filter(
            contact_scope(request.membership, path="contact__"))
    return get_for_tenant(queryset, request, pk=task_id)


def get_quarantined_for_user(request, quarantine_id):
    return get_for_tenant(InboundQuarantine.objects.select_related("mailbox", "inbound"), request, pk=quarantine_id)
