from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from scendcore.csv_cells import csv_response
from scendcore.lookups import as_id
from scendcore.tenancy import tenant_required

from ..access import get_import, get_list
from ..forms import UploadForm
from ..models import ContactList, DuplicatePolicy, ImportStatus
from ..services.imports import CUSTOM, FIELDS, IGNORE, import_prepare, import_preview, import_start

UPLOAD = "contacts/import_upload.html"
DETAIL = "contacts/import_detail.html"
TARGETS = [(IGNORE, "— Ignore this column —"), (CUSTOM, "Custom field")] + [(k, v[0]) for k, v in FIELDS.items()]
REJECTED_SHOWN = 500


@tenant_required
def import_upload(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = import_prepare(tenant=request.tenant, file_name=upload.name, raw=upload.read(), actor=request.user)
            except ValidationError as exc:
                form.add_error("file", exc.messages[0])
            else:
                return redirect("contacts:import-detail", import_id=job.pk)
        return render(request, UPLOAD, {"form": form}, status=422)
    return render(request, UPLOAD, {"form": form})


def _detail_context(request, job, **extra):
    context = {"job": job, "targets": TARGETS, "policies": DuplicatePolicy.choices, **extra}
    if job.status == ImportStatus.UPLOADED:
        full = type(job).objects.only("source_text", "delimiter").get(pk=job.pk)
        context["preview"] = import_preview(job=full)
        context["columns"] = [(str(i), header, job.mapping.get(str(i), IGNORE)) for i, header in enumerate(job.headers)]
        context["lists"] = ContactList.objects.filter(tenant=request.tenant)
    if job.status == ImportStatus.DONE or job.status == ImportStatus.FAILED:
        context["rejected"] = job.rejected_rows.all()[:REJECTED_SHOWN]
    return context


@tenant_required
def import_detail(request, import_id):
    """Mapping and preview (uploaded), progress (queued/running, polled every second),
    then the report. POST confirms the mapping and starts the import."""
    job = get_import(request, import_id)
    if request.method == "POST":
        mapping = {str(i): request.POST.get(f"col_{i}", IGNORE) for i in range(len(job.headers))}
        list_id = as_id(request.POST.get("contact_list"))
        contact_list = get_list(request, list_id) if list_id else None
        try:
            job = import_start(
                tenant=request.tenant, job=job, mapping=mapping, actor=request.user,
                duplicate_policy=request.POST.get("duplicate_policy", ""), contact_list=contact_list,
                new_list_name=request.POST.get("new_list_name", ""),
            )
        except ValidationError as exc:
            job.mapping = mapping
            return render(request, DETAIL, _detail_context(request, job, error=exc.messages[0]), status=422)
        return redirect("contacts:import-detail", import_id=job.pk)
    context = _detail_context(request, job)
    return render(request, f"{DETAIL}#import-status" if request.htmx else DETAIL, context)


@tenant_required
def import_rejected_csv(request, import_id):
    job = get_import(request, import_id)
    header = ["line", "email", "reason", *job.headers]
    rows = ([r.line, r.email, r.reason, *r.values] for r in job.rejected_rows.all().iterator())
    return csv_response([header, *rows], filename=f"rejected-rows-import-{job.pk}.csv")
