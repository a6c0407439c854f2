import copy

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from scendcore.lookups import as_id, as_ids
from scendcore.tenancy import get_for_tenant, tenant_required

from ..access import get_contact, get_list
from ..forms import ContactFilterForm, ContactForm, skip_active_elsewhere
from ..selectors import (
    contact_enrollments,
    contact_filter,
    contact_match_count,
    contact_table,
    contact_timeline,
    enrollable_sequences,
    filter_choices,
    visible_contacts,
)
from ..services.contacts import contact_create, contact_update, contacts_delete, contacts_mark_do_not_contact
from ..services.lists import list_add_contacts, list_remove_contacts
from ..suppression import label, suppression_reason, suppression_reasons

PAGE_SIZE = 50
# The client event after which the contact page's timeline fetches itself again.
ENROLLMENT_CHANGED = "enrollment-changed"
PAGE = "contacts/contacts.html"
DETAIL = "contacts/contact_detail.html"


def with_suppression(contacts):
    """`contacts` with `suppression` (reason key or None) and `suppression_label` set,
    from one query for all of them."""
    reasons = suppression_reasons(contacts)
    for contact in contacts:
        contact.suppression = reasons.get(contact.pk)
        contact.suppression_label = label(contact.suppression) if contact.suppression else ""
    return contacts


def _filter_query(filters):
    query = QueryDict(mutable=True)
    for key, value in filters.items():
        query[key] = value
    return query


def _table_context(request, params, *, selected=(), select_all=False, result=None, matching=None):
    """The table's context. `matching` is the exact number of contacts matching the
    filters when the caller has counted them; otherwise the table's own count is exact
    unless it was capped, and then "select all" counts them when it is ticked."""
    tenant = request.tenant
    choices = filter_choices(tenant=tenant)
    form = ContactFilterForm(params, choices=choices)
    filters = form.filters()
    paginator = contact_table(tenant=tenant, membership=request.membership, filters=filters, per_page=PAGE_SIZE)
    page = paginator.get_page(params.get("page"))
    page.object_list = with_suppression(list(page.object_list))
    if matching is None and not paginator.count_is_capped:
        matching = paginator.count
    return {
        "form": form, "filters": filters, "filter_query": _filter_query(filters).urlencode(), "page": page,
        "matching": matching, "selected": {int(pk) for pk in selected}, "select_all": select_all,
        "result": result, "sequences": list(enrollable_sequences(tenant=tenant)), "lists": choices["lists"],
    }


@tenant_required
def contact_new(request):
    """GET: an empty contact form. POST: create and open the profile, or 422 inline."""
    form = ContactForm(request.POST or None, tenant=request.tenant,
                       initial={"owner": request.user.pk, "timezone": request.tenant.default_timezone})
    if request.method == "POST" and form.is_valid():
        try:
            contact = contact_create(tenant=request.tenant, data=form.cleaned_data, actor=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Added {contact}.")
            reason = suppression_reason(contact)
            if reason:
                messages.warning(request, f"{contact.email} is on the suppression list ({label(reason)}): "
                                          "this contact will not be contacted.")
            return redirect("contacts:detail", contact_id=contact.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "contacts/contact_new.html", {"form": form}, status=status)


@tenant_required
def contact_index(request):
    params = request.GET
    if not request.membership.is_manager and "owner" not in params:
        # Reps work their own book first; "Any owner" (owner=) shows the whole workspace.
        params = params.copy()
        params["owner"] = str(request.user.pk)
    context = _table_context(request, params)
    return render(request, f"{PAGE}#contact-table" if request.htmx else PAGE, context)


@tenant_required
def contact_count(request):
    """The exact number of contacts matching the filters in the query string, for "select
    all N matching" on a table whose own count stopped at the cap: counted only when asked."""
    filters = ContactFilterForm(request.GET, choices=filter_choices(tenant=request.tenant)).filters()
    matching = contact_match_count(tenant=request.tenant, membership=request.membership, filters=filters)
    return render(request, f"{PAGE}#matching-count", {"matching": matching})


def _selected_ids(request, filters):
    """The selection as a queryset of ids the member may act on: "all matching" re-applies
    the posted filter; otherwise posted ids are kept only if they are contacts the member
    sees (of this tenant, and their own when reps see only their own)."""
    if request.POST.get("select_all") == "1":
        return contact_filter(tenant=request.tenant, membership=request.membership, filters=filters) \
            .order_by().values("pk")
    ids = as_ids(request.POST.getlist("contact_ids"))
    return visible_contacts(tenant=request.tenant, membership=request.membership).filter(pk__in=ids).values("pk")


def _bulk_apply(request, action, ids, count):
    from sequences.models import Sequence
    from sequences.services.enrollments import enrollments_bulk_create

    actor, tenant = request.user, request.tenant
    if action in ("enroll", "enroll_confirmed"):
        # A confirmation carries its choices in fields of its own: the bar's select is reset.
        prefix = "confirm_" if action == "enroll_confirmed" else ""
        sequence_id = _int(request.POST.get(f"{prefix}sequence"))
        if not sequence_id:
            raise ValidationError("Choose the sequence to enroll them in.")
        sequence = get_for_tenant(Sequence.objects.all(), request, pk=sequence_id)
        elsewhere = request.POST.get(f"{prefix}active_elsewhere")
        if action == "enroll" and request.POST.get("select_all") == "1":
            # "All matching" can be thousands of people: say how many, and ask first.
            return {"confirm_enroll": count, "sequence": sequence, "active_elsewhere": elsewhere or ""}
        return {"enroll": enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=ids, actor=actor,
                                                  skip_active_elsewhere=skip_active_elsewhere(elsewhere)),
                "sequence": sequence}
    if action in ("add_to_list", "remove_from_list"):
        if not _int(request.POST.get("contact_list")):
            raise ValidationError("Choose a list.")
        contact_list = get_list(request, _int(request.POST.get("contact_list")))
        if action == "add_to_list":
            n = list_add_contacts(tenant=tenant, contact_list=contact_list, contact_ids=ids, actor=actor)
            return {"message": f"Added {n} contact{'s' * (n != 1)} to “{contact_list.name}” ({count - n} already there)."}
        n = list_remove_contacts(tenant=tenant, contact_list=contact_list, contact_ids=ids, actor=actor)
        return {"message": f"Removed {n} contact{'s' * (n != 1)} from “{contact_list.name}”."}
    if action == "do_not_contact":
        n = contacts_mark_do_not_contact(tenant=tenant, contact_ids=ids, actor=actor)
        return {"message": f"Marked {n} contact{'s' * (n != 1)} do-not-contact; their sequences were stopped."}
    if action == "delete":
        return {"confirm_delete": count}
    if action == "delete_confirmed":
        n = contacts_delete(tenant=tenant, contact_ids=ids, actor=actor)
        return {"message": f"Deleted {n} contact{'s' * (n != 1)}."}
    raise ValidationError("Choose an action.")


def _int(value):
    return as_id(value) or 0


@tenant_required
@require_POST
def contact_bulk(request):
    form = ContactFilterForm(request.POST, choices=filter_choices(tenant=request.tenant))
    filters = form.filters()
    ids = _selected_ids(request, filters)
    count = ids.count()
    action = request.POST.get("action", "")
    status = 200
    try:
        if not count:
            raise ValidationError("Select at least one contact first.")
        result = _bulk_apply(request, action, ids, count)
    except ValidationError as exc:
        result, status = {"error": exc.messages[0]}, 422
    select_all = request.POST.get("select_all") == "1"
    keep = () if action == "delete_confirmed" else request.POST.getlist("contact_ids")
    if request.htmx or status != 200 or "confirm_delete" in result or "confirm_enroll" in result:
        select_all = select_all and action != "delete_confirmed"
        context = _table_context(request, request.POST, selected=[str(n) for n in as_ids(keep)],
                                 select_all=select_all, result=result, matching=count if select_all else None)
        return render(request, f"{PAGE}#contact-table" if request.htmx else PAGE, context, status=status)
    if "enroll" in result:
        messages.success(request, f"{result['sequence'].name}: {result['enroll'].summary()}")
    else:
        messages.success(request, result["message"])
    return redirect(f"{reverse('contacts:index')}?{_filter_query(filters).urlencode()}")


def detail_context(request, contact, **extra):
    tenant = request.tenant
    sequences = list(enrollable_sequences(tenant=tenant))
    with_suppression([contact])
    return {
        "contact": contact, "timeline": contact_timeline(tenant=tenant, contact=contact),
        "enrollments": list(contact_enrollments(tenant=tenant, contact=contact)),
        "sequences": sequences, "default_sequence": next((s for s in sequences if s.is_default), None),
        "form": extra.pop("form", None) or ContactForm(instance=contact, tenant=tenant), **extra,
    }


@tenant_required
def contact_detail(request, contact_id):
    contact = get_contact(request, contact_id)
    # The timeline refreshes itself (after an enrollment changed on this page); other
    # HTMX requests to this URL select their region from the whole page.
    if request.htmx and request.htmx.target == "contact-timeline":
        return render(request, f"{DETAIL}#contact-timeline", detail_context(request, contact))
    return render(request, DETAIL, detail_context(request, contact))


@tenant_required
def contact_edit(request, contact_id):
    """GET: the details card as a form. POST: save, or the form again with 422."""
    contact = get_contact(request, contact_id)
    if request.method == "POST":
        form = ContactForm(request.POST, instance=copy.copy(contact), tenant=request.tenant)
        if form.is_valid():
            try:
                contact_update(tenant=request.tenant, contact=contact, data=form.cleaned_data, actor=request.user)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
        if form.is_valid():
            if not request.htmx:
                messages.success(request, "Contact saved.")
                return redirect("contacts:detail", contact_id=contact.pk)
            return render(request, f"{DETAIL}#contact-details", detail_context(request, contact))
        context = detail_context(request, contact, form=form, editing=True)
        return render(request, f"{DETAIL}#contact-details" if request.htmx else DETAIL, context, status=422)
    context = detail_context(request, contact, editing=True)
    return render(request, f"{DETAIL}#contact-details" if request.htmx else DETAIL, context)


@tenant_required
@require_POST
def contact_enroll(request, contact_id):
    from sequences.models import Sequence
    from sequences.services.enrollments import ActiveElsewhere, enrollment_create

    contact = get_contact(request, contact_id)
    sequence = get_for_tenant(Sequence.objects.all(), request, pk=_int(request.POST.get("sequence")))
    try:
        enrollment_create(tenant=request.tenant, sequence=sequence, contact=contact, actor=request.user,
                          allow_active_elsewhere=request.POST.get("confirm_active_elsewhere") == "1")
    except ActiveElsewhere as exc:
        # Not an error: the rep may still enroll, once they have seen it.
        context = detail_context(request, contact, enroll_warning=exc.messages[0], confirm_sequence=sequence)
        return render(request, f"{DETAIL}#contact-enrollments" if request.htmx else DETAIL, context)
    except ValidationError as exc:
        context = detail_context(request, contact, enroll_error=exc.messages[0])
        return render(request, f"{DETAIL}#contact-enrollments" if request.htmx else DETAIL, context, status=422)
    notice = f"Enrolled in “{sequence.name}”."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("contacts:detail", contact_id=contact.pk)
    response = render(request, f"{DETAIL}#contact-enrollments", detail_context(request, contact, enroll_notice=notice))
    response["HX-Trigger"] = ENROLLMENT_CHANGED
    return response
