from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from scendcore.lookups import as_id, as_ids
from scendcore.paging import TablePaginator
from scendcore.request_body import NUL_MESSAGE
from scendcore.tenancy import get_for_tenant, tenant_required

from ..access import get_list
from ..forms import skip_active_elsewhere
from ..models import ListMembership
from ..selectors import enrollable_sequences, list_index, list_members, visible_contacts
from ..services.lists import list_add_contacts, list_create, list_delete, list_remove_contacts, list_rename

INDEX = "contacts/lists.html"
DETAIL = "contacts/list_detail.html"
PAGE_SIZE = 50


@tenant_required
def lists(request):
    error, status, notice, name = None, 200, "", request.POST.get("name", "")
    if request.method == "POST":
        try:
            created = list_create(tenant=request.tenant, name=name, actor=request.user)
        except ValidationError as exc:
            error, status = exc.messages[0], 422
        else:
            notice, name = f"List “{created.name}” created.", ""
            if not request.htmx:
                messages.success(request, notice)
                return redirect("contacts:list-detail", list_id=created.pk)
    context = {"lists": list_index(tenant=request.tenant, membership=request.membership), "error": error,
               "name": name, "notice": notice}
    return render(request, f"{INDEX}#list-index" if request.htmx and request.method == "POST" else INDEX, context,
                  status=status)


def _detail_context(request, contact_list, **extra):
    members = list_members(tenant=request.tenant, membership=request.membership, contact_list=contact_list)
    # Exact: "Enroll all N members" acts on every member, so N is counted to the end.
    page = TablePaginator(members, PAGE_SIZE, exact_count=True).get_page(request.GET.get("page"))
    return {"contact_list": contact_list, "page": page, "sequences": list(enrollable_sequences(tenant=request.tenant)),
            **extra}


def _respond(request, contact_list, region, status=200, **extra):
    context = _detail_context(request, contact_list, **extra)
    if request.htmx:
        return render(request, f"{DETAIL}#{region}", context, status=status)
    if status == 200 and "notice" in extra:
        messages.success(request, extra["notice"])
        return redirect("contacts:list-detail", list_id=contact_list.pk)
    return render(request, DETAIL, context, status=status)


@tenant_required
def list_detail(request, list_id):
    contact_list = get_list(request, list_id)
    context = _detail_context(request, contact_list)
    return render(request, f"{DETAIL}#list-members" if request.htmx else DETAIL, context)


@tenant_required
@require_POST
def list_rename_view(request, list_id):
    contact_list = get_list(request, list_id)
    try:
        list_rename(tenant=request.tenant, contact_list=contact_list, name=request.POST.get("name"), actor=request.user)
    except ValidationError as exc:
        return _respond(request, contact_list, "list-header", 422, rename_error=exc.messages[0])
    return _respond(request, contact_list, "list-header", notice="List renamed.")


@tenant_required
@require_POST
def list_delete_view(request, list_id):
    contact_list = get_list(request, list_id)
    name = contact_list.name
    list_delete(tenant=request.tenant, contact_list=contact_list, actor=request.user)
    messages.success(request, f"List “{name}” deleted (its contacts were kept).")
    if request.htmx:
        response = render(request, "contacts/lists.html#list-create", {"name": ""})
        response["HX-Redirect"] = "/lists/"
        return response
    return redirect("contacts:lists")


@tenant_required
@require_POST
def list_members_add(request, list_id):
    """Add contacts by email address (one per line or separated by commas)."""
    contact_list = get_list(request, list_id)
    raw = request.POST.get("emails", "")
    if "\x00" in raw:
        return _respond(request, contact_list, "list-members", 422, add_error=NUL_MESSAGE)
    emails = {e.strip().lower() for e in raw.replace(",", "\n").split() if e.strip()}
    if not emails:
        return _respond(request, contact_list, "list-members", 422, add_error="Enter at least one email address.")
    found = {email.lower(): pk for pk, email in _matching(request, emails).values_list("pk", "email")}
    added = list_add_contacts(tenant=request.tenant, contact_list=contact_list, contact_ids=list(found.values()),
                              actor=request.user)
    missing = sorted(emails - set(found))
    notice = f"Added {added} contact{'s' * (added != 1)}."
    if missing:
        notice += f" Not found: {', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}."
    return _respond(request, contact_list, "list-members", notice=notice)


def _matching(request, emails):
    visible = visible_contacts(tenant=request.tenant, membership=request.membership)
    return visible.alias(e=Lower("email")).filter(e__in=list(emails))


@tenant_required
@require_POST
def list_members_remove(request, list_id):
    contact_list = get_list(request, list_id)
    posted = as_ids(request.POST.getlist("contact_ids"))
    ids = visible_contacts(tenant=request.tenant, membership=request.membership).filter(pk__in=posted).values("pk")
    if not posted:
        return _respond(request, contact_list, "list-members", 422, add_error="Select the contacts to remove.")
    n = list_remove_contacts(tenant=request.tenant, contact_list=contact_list, contact_ids=ids, actor=request.user)
    return _respond(request, contact_list, "list-members", notice=f"Removed {n} contact{'s' * (n != 1)} from the list.")


@tenant_required
@require_POST
def list_enroll(request, list_id):
    """Enroll All in Sequence: every member of the list, set-based."""
    from sequences.models import Sequence
    from sequences.services.enrollments import enrollments_bulk_create

    contact_list = get_list(request, list_id)
    seq_id = as_id(request.POST.get("sequence"))
    if seq_id is None:
        return _respond(request, contact_list, "list-enroll", 422, enroll_error="Choose a sequence.")
    sequence = get_for_tenant(Sequence.objects.all(), request, pk=seq_id)
    member_ids = visible_contacts(tenant=request.tenant, membership=request.membership).filter(
        pk__in=ListMembership.objects.filter(contact_list=contact_list).values("contact_id")).values("pk")
    try:
        result = enrollments_bulk_create(
            tenant=request.tenant, sequence=sequence, contact_ids=member_ids, actor=request.user, via="list",
            skip_active_elsewhere=skip_active_elsewhere(request.POST.get("active_elsewhere")))
    except ValidationError as exc:
        return _respond(request, contact_list, "list-enroll", 422, enroll_error=exc.messages[0])
    return _respond(request, contact_list, "list-enroll", enroll_result=result, sequence=sequence,
                    notice=f"{sequence.name}: {result.summary()}")
