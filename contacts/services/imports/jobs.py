"""An import's life: prepared from the upload, previewed, started with its mapping
confirmed (queued for a worker), run."""
import csv
import io

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from scendcore import jobs
from scendcore.audit import audit_record as audit

from ...models import DuplicatePolicy, ImportJob, ImportStatus
from ..lists import list_create
from .reading import MAX_UPLOAD_BYTES, auto_mapping, decode_upload, mapping_clean, read_records, sniff_delimiter
from .writer import _Importer


@transaction.atomic
def import_prepare(*, tenant, file_name, raw, actor):
    """Check an uploaded file and keep it for mapping. ValidationError explains refusals."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    text = decode_upload(raw)
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    try:
        headers = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True), [])
        total = sum(1 for _ in read_records(text, delimiter))
    except csv.Error as exc:
        raise ValidationError(f"This file cannot be read as CSV: {exc}.") from None
    headers = [h.strip() for h in headers]
    if not any(headers):
        raise ValidationError("The first line must be a header row naming the columns.")
    mapping = auto_mapping(headers)
    if "email" not in mapping.values():
        raise ValidationError(
            "No email column found. The header row needs a column named “Email” (or “E-mail”, "
            "“Email address”): every contact needs an email address."
        )
    job = ImportJob.objects.create(
        tenant=tenant, created_by=actor, file_name=file_name[:255], source_text=text, headers=headers,
        delimiter=delimiter, mapping=mapping, total_rows=total,
    )
    audit(tenant=tenant, actor=actor, object_type="import", object_id=job.pk, action="uploaded",
          changes={"file_name": job.file_name, "rows": total})
    return job


def import_preview(*, job, rows=5):
    out = []
    for line, values in read_records(job.source_text, job.delimiter):
        out.append((line, values))
        if len(out) >= rows:
            break
    return out


@transaction.atomic
def import_start(*, tenant, job, mapping, duplicate_policy, actor, contact_list=None, new_list_name=""):
    """Confirm the mapping and queue the import (the task runs after commit)."""

    job = ImportJob.objects.select_for_update().get(pk=job.pk, tenant=tenant)
    if job.status != ImportStatus.UPLOADED:
        raise ValidationError("This import has already been started.")
    if duplicate_policy not in DuplicatePolicy.values:
        raise ValidationError("Choose what to do with contacts that already exist.")
    if contact_list is not None and contact_list.tenant_id != tenant.pk:
        raise ValidationError("That list does not exist.")
    job.mapping = mapping_clean(headers=job.headers, mapping=mapping)
    job.duplicate_policy = duplicate_policy
    if new_list_name.strip():
        contact_list = list_create(tenant=tenant, name=new_list_name, actor=actor)
    job.contact_list = contact_list
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["mapping", "duplicate_policy", "contact_list", "status"])
    audit(tenant=tenant, actor=actor, object_type="import", object_id=job.pk, action="started",
          changes={"mapping": job.mapping, "duplicate_policy": duplicate_policy})
    jobs.start("contacts.import_contacts", tenant.pk, job.pk)
    return job


# --- row validation ------------------------------------------------------------------


def import_run(*, tenant_id, import_id):
    """Process a queued import. Safe to call twice: only one call moves it to running."""
    claimed = ImportJob.objects.filter(pk=import_id, tenant_id=tenant_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("tenant").get(pk=import_id, tenant_id=tenant_id)
    importer = _Importer(job)
    try:
        importer.run(read_records(job.source_text, job.delimiter))
    except Exception as exc:  # recorded for the user, then re-raised for the worker log
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=f"The import stopped: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job
