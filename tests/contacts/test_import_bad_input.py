"""A CSV upload is checked for NUL bytes all the way through, not only at its start."""
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from contacts.models import ImportJob

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("offset", [10, 64 * 1024 + 10, 3 * 64 * 1024 + 7])
def test_a_nul_byte_anywhere_in_the_file_is_refused_inline(rep, outsider, offset):
    rows = b"".join(b"person%d@example.com,Person\r\n" % i for i in range(12_000))
    raw = b"Email,Name\r\n" + rows
    raw = raw[:offset] + b"\x00" + raw[offset:]
    client = Client(raise_request_exception=False)
    client.force_login(rep)

    response = client.post(reverse("contacts:import-upload"),
                           {"file": SimpleUploadedFile("people.csv", raw, content_type="text/csv")})

    assert response.status_code == 422, response.content[:300]
    line = raw[:offset].count(b"\n") + 1
    assert f"binary data, first on line {line}" in response.content.decode()
    assert not ImportJob.objects.exists()
    # The outsider's view of imports stays empty too.
    client.force_login(outsider)
    assert client.get(reverse("contacts:import-upload")).status_code == 200
    assert not ImportJob.objects.exists()
