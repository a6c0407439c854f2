"""Tenant objects of the contacts app for a request: the object, or 404 (also for a
contact the member may not see, see visibility.py)."""
from scendcore.tenancy import get_for_tenant

from .models import Contact, ContactList, ImportJob
from .visibility import contact_scope, import_scope


def get_contact(request, contact_id):
    return get_for_tenant(
        Contact.objects.filter(contact_scope(request.membership)).select_related("owner"), request, pk=contact_id
    )


def get_list(request, list_id):
    return get_for_tenant(ContactList.objects.all(), request, pk=list_id)


def get_import(request, import_id):
    return get_for_tenant(
        ImportJob.objects.filter(import_scope(request.membership)).defer("source_text"), request, pk=import_id
    )
