"""The suppression list (managers read, admins add) and the erasure of a person (admins)."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from scendcore.paging import TablePaginator
from scendcore.tenancy import admin_required, manager_required
from scendcore.text import db_text

from ..access import get_contact
from ..selectors import suppression_list
from ..services.suppressions import person_erase, suppression_add_manual
from ..suppression import normalize_address

PAGE = "contacts/suppression.html"
PAGE_SIZE = 50


def _page(request, *, status=200, **extra):
    query = db_text(request.GET.get("q", ""))[:254]
    entries = suppression_list(tenant=request.tenant, query=query)
    page = TablePaginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "q": query, "can_edit": request.membership.is_admin, **extra}
    return render(request, PAGE, context, status=status)


@manager_required
def suppression_index(request):
    return _page(request)


@admin_required
@require_POST
def suppression_add_view(request):
    text = request.POST.get("addresses", "")[:100_000]
    try:
        added = suppression_add_manual(tenant=request.tenant, text=text, actor=request.user)
    except ValidationError as exc:
        return _page(request, status=422, add_errors=exc.message_dict.get("addresses", exc.messages), addresses=text)
    messages.success(request, f"{added} address{'es' * (added != 1)} added to the suppression list.")
    return redirect("contacts:suppression")


def _erase(request, address):
    removed = person_erase(tenant=request.tenant, address=address, actor=request.user)
    messages.success(
        request, f"Erased: {removed['contacts']} contact(s), {removed['inbound']} inbound message(s) and the rest of "
        "what this workspace held about the person. Only a keyed hash of the address stays on the suppression "
        "list, so it is never mailed or added again.")


@admin_required
@require_POST
def suppression_erase_view(request):
    """Erase by address: for a person whose contact is already gone, or never existed."""
    address = request.POST.get("address", "")[:254]
    if normalize_address(address) != normalize_address(request.POST.get("confirm", "")) or not address.strip():
        return _page(request, status=422, erase_error="Type the address twice, exactly, to confirm the erasure.",
                     erase_address=db_text(address))
    try:
        _erase(request, address)
    except ValidationError as exc:
        return _page(request, status=422, erase_error=" ".join(exc.messages), erase_address=db_text(address))
    return redirect("contacts:suppression")


@admin_required
@require_POST
def contact_erase(request, contact_id):
    from .contacts import DETAIL, detail_context

    contact = get_contact(request, contact_id)
    if normalize_address(request.POST.get("confirm", "")) != normalize_address(contact.email):
        context = detail_context(request, contact, erase_error="Type the contact's email address to confirm.")
        return render(request, DETAIL, context, status=422)
    _erase(request, contact.email)
    return redirect("contacts:index")
