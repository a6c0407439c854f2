"""The sequence's enrollment table, its bulk actions, single pause/resume/unenroll and
the auto-enrollment rule form."""
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from scendcore.lookups import as_ids
from scendcore.paging import TablePaginator
from scendcore.tenancy import get_for_tenant, tenant_required

from ..access import get_enrollment_for_user, visible_enrollments
from ..models import EnrollmentStatus, Sequence
from ..services import enrollments as service
from ..services.auto_enroll import entry_rules_update

TABLE = "sequences/enrollments.html"
PAGE_SIZE = 50


class EntryRulesForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Auto-enroll contacts that match these rules")
    lead_status = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    score_band = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    list_ids = forms.TypedMultipleChoiceField(required=False, coerce=int, label="In any of these lists",
                                              widget=forms.CheckboxSelectMultiple)
    no_active_enrollment = forms.BooleanField(required=False, label="Not in any other sequence")
    no_reply_days = forms.IntegerField(required=False, min_value=1, max_value=3650,
                                       label="No reply in the last N days")

    def __init__(self, *args, tenant, **kwargs):
        from contacts.models import ContactList, LeadStatus, ScoreBand

        super().__init__(*args, **kwargs)
        self.fields["lead_status"].choices = LeadStatus.choices
        self.fields["score_band"].choices = ScoreBand.choices
        self.fields["list_ids"].choices = list(ContactList.objects.filter(tenant=tenant).values_list("pk", "name"))


def _sequence(request, sequence_id):
    return get_for_tenant(Sequence.objects.all(), request, pk=sequence_id)


def _table_context(request, sequence, params, **extra):
    status = params.get("status", "")
    rows = (
        visible_enrollments(request).filter(sequence=sequence)
        .select_related("contact", "current_step")
        .order_by("-enrolled_at", "-id")
    )
    if status in EnrollmentStatus.values:
        rows = rows.filter(status=status)
    page = TablePaginator(rows, PAGE_SIZE).get_page(params.get("page"))
    query = QueryDict(mutable=True)
    if status in EnrollmentStatus.values:
        query["status"] = status
    rules = sequence.entry_rules or {}
    rules_form = extra.pop("rules_form", None) or EntryRulesForm(
        initial={"enabled": sequence.auto_enroll_enabled, **rules}, tenant=request.tenant
    )
    return {
        "sequence": sequence, "page": page, "status": status if status in EnrollmentStatus.values else "",
        "statuses": EnrollmentStatus.choices, "filter_query": query.urlencode(),
        "here": f"{reverse('sequences:enrollments', args=[sequence.pk])}?{query.urlencode()}"
                + (f"&page={page.number}" if page.number > 1 else ""),
        "rules_form": rules_form, **extra,
    }


@tenant_required
def enrollment_table(request, sequence_id):
    sequence = _sequence(request, sequence_id)
    context = _table_context(request, sequence, request.GET)
    return render(request, f"{TABLE}#enrollment-table" if request.htmx else TABLE, context)


BULK = {
    "pause": (service.enrollments_bulk_pause, "Paused"),
    "resume": (service.enrollments_bulk_resume, "Resumed"),
    "unenroll": (service.enrollments_bulk_unenroll, "Unenrolled"),
}


@tenant_required
@require_POST
def enrollment_bulk(request, sequence_id):
    sequence = _sequence(request, sequence_id)
    action = request.POST.get("action", "")
    ids = as_ids(request.POST.getlist("enrollment_ids"))
    # Ids of other sequences or tenants are dropped here and again inside the service.
    scoped = visible_enrollments(request).filter(sequence=sequence, pk__in=ids).values("pk")
    status, notice, error = 200, None, None
    if action not in BULK:
        status, error = 422, "Choose an action."
    elif not ids:
        status, error = 422, "Select at least one enrollment."
    else:
        function, verb = BULK[action]
        n = function(tenant=request.tenant, enrollment_ids=scoped, actor=request.user)
        notice = f"{verb} {n} enrollment{'s' * (n != 1)}."
    params = QueryDict(request.POST.get("filter_query", ""))
    if not request.htmx and status == 200:
        messages.success(request, notice)
        return redirect(f"{reverse('sequences:enrollments', args=[sequence.pk])}?{params.urlencode()}")
    context = _table_context(request, sequence, params, notice=notice, error=error)
    return render(request, f"{TABLE}#enrollment-table" if request.htmx else TABLE, context, status=status)


def _single(request, enrollment_id, function, verb):
    enrollment = get_enrollment_for_user(request, enrollment_id, related=("sequence", "contact"))
    status, notice, error = 200, None, None
    try:
        function(tenant=request.tenant, enrollment=enrollment, actor=request.user)
        notice = f"{verb}: {enrollment.contact} in “{enrollment.sequence.name}”."
    except ValidationError as exc:
        status, error = 422, exc.messages[0]
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("sequences:enrollments", args=[enrollment.sequence_id])
    if not request.htmx:
        (messages.success if status == 200 else messages.error)(request, notice or error)
        return redirect(back)
    if request.POST.get("from") == "contact":
        from contacts.views.contacts import DETAIL, ENROLLMENT_CHANGED, detail_context

        context = detail_context(request, enrollment.contact, enroll_notice=notice, enroll_error=error)
        response = render(request, f"{DETAIL}#contact-enrollments", context, status=status)
        if status == 200:
            response["HX-Trigger"] = ENROLLMENT_CHANGED
        return response
    params = QueryDict(back.partition("?")[2])
    context = _table_context(request, enrollment.sequence, params, notice=notice, error=error)
    return render(request, f"{TABLE}#enrollment-table", context, status=status)


@tenant_required
@require_POST
def enrollment_pause(request, enrollment_id):
    return _single(request, enrollment_id, service.enrollment_pause, "Paused")


@tenant_required
@require_POST
def enrollment_resume(request, enrollment_id):
    return _single(request, enrollment_id, service.enrollment_resume, "Resumed")


@tenant_required
@require_POST
def enrollment_unenroll(request, enrollment_id):
    return _single(request, enrollment_id, service.enrollment_unenroll, "Unenrolled")


@tenant_required
@require_POST
def entry_rules(request, sequence_id):
    sequence = _sequence(request, sequence_id)
    form = EntryRulesForm(request.POST, tenant=request.tenant)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry_rules_update(tenant=request.tenant, sequence=sequence, enabled=data.pop("enabled"), rules=data,
                               actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc.messages[0])
    if form.errors:
        context = _table_context(request, sequence, QueryDict(), rules_form=form)
        return render(request, f"{TABLE}#entry-rules" if request.htmx else TABLE, context, status=422)
    if not request.htmx:
        messages.success(request, "Entry rules saved.")
        return redirect("sequences:enrollments", sequence_id=sequence.pk)
    context = _table_context(request, sequence, QueryDict(), rules_notice="Entry rules saved.")
    return render(request, f"{TABLE}#entry-rules", context)
