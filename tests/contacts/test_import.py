"""CSV import: every bad row reported with its physical line, every good row imported."""
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.models import Contact, ImportJob, ListMembership
from contacts.services.imports import auto_mapping, import_prepare, import_start, normalize_phone
from tests.factories import ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db

MIXED = (
    "E-mail,First Name,Last Name,Organization,Mobile,Job Title,Timezone,Favourite colour\r\n"  # line 1
    "ann@example.com,Ann,Lee,Acme,+1 (415) 555-0100,CTO,America/Los_Angeles,blue\r\n"          # 2 ok
    "not-an-email,Bob,Ray,Acme,,,,\r\n"                                                          # 3 bad email
    "carl@example.com,Carl,\"Multi\nLine\",Acme,,,,\r\n"                                         # 4-5 ok
    "dana@example.com,Dana,Fox,Acme,12345,,,\r\n"                                                # 6 bad phone
    "\r\n"                                                                                       # 7 blank
    "erin@example.com,Erin,Moss,Acme,,,Mars/Olympus,\r\n"                                        # 8 bad tz
    "ANN@example.com,Ann,Again,Acme,,,,\r\n"                                                     # 9 duplicate of 2
    ",Nobody,Here,Acme,,,,\r\n"                                                                  # 10 no email
    "fay@example.com,Fay,Short\r\n"                                                              # 11 too few fields
    "gus@example.com,Gus,Gold,Globex,0044 20 7946 0958,CEO,Europe/London,green\r\n"             # 12 ok
)


def _run(tenant, text, *, policy="skip", contact_list=None, raw=None, django_capture_on_commit_callbacks=None):
    job = import_prepare(tenant=tenant, file_name="people.csv", raw=raw or text.encode(), actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        import_start(tenant=tenant, job=job, mapping=job.mapping, duplicate_policy=policy, actor=None,
                     contact_list=contact_list)
    job.refresh_from_db()
    return job


def test_headers_are_mapped_automatically_and_unknown_columns_become_custom_fields():
    mapping = auto_mapping(["E-mail", "firstname", "Organization", "Mobile", "Job Title", "Timezone", "Colour"])
    assert list(mapping.values()) == ["email", "first_name", "company", "phone", "title", "timezone", "custom"]


def test_obvious_phone_forms_are_normalised_to_e164():
    assert normalize_phone("+1 (415) 555-0100") == "+14155550100"
    assert normalize_phone("0044 20 7946 0958") == "+442079460958"
    with pytest.raises(ValidationError):
        normalize_phone("415 555 0100")


def test_a_mixed_file_imports_every_good_row_and_reports_every_bad_one_by_line(
    tenant, django_capture_on_commit_callbacks
):
    contact_list = ContactListFactory(tenant=tenant)

    job = _run(tenant, MIXED, contact_list=contact_list,
               django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    assert job.status == "done"
    assert job.total_rows == 10 and job.processed_rows == 10  # records; lines 4-5 are one
    assert (job.created_count, job.rejected_count, job.blank_lines) == (3, 6, 1)
    rejected = {r.line: r.reason for r in job.rejected_rows.all()}
    assert sorted(rejected) == [3, 6, 8, 9, 10, 11]
    assert "invalid email" in rejected[3]
    assert "phone" in rejected[6]
    assert "timezone" in rejected[8]
    assert "line 2" in rejected[9]
    assert "missing" in rejected[10]
    assert "fields" in rejected[11]
    ann = Contact.objects.get(tenant=tenant, email="ann@example.com")
    assert (ann.phone, ann.title, ann.company, ann.timezone) == ("+14155550100", "CTO", "Acme", "America/Los_Angeles")
    assert ann.custom_fields == {"favourite_colour": "blue"}
    assert Contact.objects.get(email="carl@example.com").last_name == "Multi\nLine"
    assert Contact.objects.get(email="gus@example.com").phone == "+442079460958"
    assert ListMembership.objects.filter(contact_list=contact_list).count() == 3


def test_reimporting_the_same_file_is_idempotent(tenant, django_capture_on_commit_callbacks):
    _run(tenant, MIXED, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    again = _run(tenant, MIXED, policy="update", django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    skipped = _run(tenant, MIXED, policy="skip", django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    assert Contact.objects.filter(tenant=tenant).count() == 3
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    assert (skipped.created_count, skipped.skipped_existing_count, skipped.rejected_count) == (0, 3, 6)


def test_update_policy_fills_changed_values_without_blanking_existing_ones(tenant, django_capture_on_commit_callbacks):
    ContactFactory(tenant=tenant, email="Ann@Example.com", title="VP", phone="+15550001111")
    job = _run(tenant, "Email,Title,Phone\nann@example.com,CTO,\n", policy="update",
               django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    ann = Contact.objects.get(tenant=tenant)
    assert job.updated_count == 1
    assert (ann.email, ann.title, ann.phone) == ("Ann@Example.com", "CTO", "+15550001111")


def test_a_utf8_bom_is_accepted(tenant, django_capture_on_commit_callbacks):
    job = _run(tenant, "", raw="\ufeffEmail,Name\nzoe@example.com,Zoë Ångström\n".encode(),
               django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    zoe = Contact.objects.get(tenant=tenant)
    assert job.created_count == 1
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "Ångström")


def test_a_file_that_is_not_utf8_is_refused_with_a_clear_message(tenant):
    with pytest.raises(ValidationError, match="not UTF-8"):
        import_prepare(tenant=tenant, file_name="x.csv", raw="Email,Name\nx@y.com,Jürgen\n".encode("latin-1"), actor=None)


def test_a_file_without_an_email_column_is_refused(tenant):
    with pytest.raises(ValidationError, match="No email column"):
        import_prepare(tenant=tenant, file_name="x.csv", raw=b"Name,Company\nAnn,Acme\n", actor=None)


def test_the_upload_form_answers_422_for_bad_files(rep_client):
    url = reverse("contacts:import-upload")
    for raw, message in [
        ("Email\nJürgen@x.com\n".encode("latin-1"), "not UTF-8"),
        (b"Name,Company\nAnn,Acme\n", "No email column"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a CSV file"),
    ]:
        response = rep_client.post(url, {"file": SimpleUploadedFile("x.csv", raw, content_type="text/csv")})
        assert response.status_code == 422
        assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_upload_map_import_and_download_the_rejected_rows_through_the_pages(
    rep_client, tenant, django_capture_on_commit_callbacks
):
    response = rep_client.post(reverse("contacts:import-upload"),
                               {"file": SimpleUploadedFile("p.csv", MIXED.encode(), content_type="text/csv")})
    job = ImportJob.objects.get(tenant=tenant)
    assert response.status_code == 302
    page = rep_client.get(reverse("contacts:import-detail", args=[job.pk])).content.decode()
    assert "ann@example.com" in page and "Favourite colour" in page  # preview and mapping

    form = {f"col_{i}": v for i, v in job.mapping.items()} | {"col_7": "", "duplicate_policy": "skip"}
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.post(reverse("contacts:import-detail", args=[job.pk]), form)
    assert response.status_code == 302

    progress = rep_client.get(reverse("contacts:import-detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    body = progress.content.decode()
    assert 'id="import-status"' in body and "<html" not in body
    assert "every 1s" not in body  # finished: polling stops
    assert "Mars/Olympus" in body
    csv_text = rep_client.get(reverse("contacts:import-rejected-csv", args=[job.pk])).content.decode()
    assert csv_text.splitlines()[0].startswith("line,email,reason,E-mail")
    assert [line.split(",")[0] for line in csv_text.splitlines()[1:]] == ["3", "6", "8", "9", "10", "11"]
    assert Contact.objects.get(email="ann@example.com").custom_fields == {}  # column ignored


def test_starting_an_import_without_an_email_mapping_answers_422(rep_client, tenant):
    job = import_prepare(tenant=tenant, file_name="p.csv", raw=b"Email,Name\na@b.co,A\n", actor=None)
    response = rep_client.post(reverse("contacts:import-detail", args=[job.pk]),
                               {"col_0": "", "col_1": "full_name", "duplicate_policy": "skip"})
    assert response.status_code == 422
    assert "Map one column to Email" in response.content.decode()
