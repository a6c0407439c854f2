"""The JSON API answers hostile input with a 4xx that names the problem, never a 500."""
import json

import pytest
from django.test import Client
from django.urls import reverse

from scendcore.api import api_token_create
from sequences.models import Enrollment, Sequence
from tests.factories import ContactFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db

DEEP = 100_000


@pytest.fixture
def api(tenant, rep):
    """A client that reports a server error as a 500 response instead of raising it."""
    key = api_token_create(tenant=tenant, user=rep, name="probe")
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def outsider_api(other_tenant, outsider):
    key = api_token_create(tenant=other_tenant, user=outsider, name="theirs")
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def sequence(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active", name="Kept as it was")
    StepFactory(sequence=sequence)
    return sequence


def send(client, method, url, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return getattr(client, method)(url, data=raw, content_type="application/json")


def errors_of(response):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    return response.json()["errors"]


@pytest.mark.parametrize("body, field", [
    ({"template": "cold_outreach", "name": 123}, "name"),
    ({"template": "cold_outreach", "name": ["a list"]}, "name"),
    ({"name": "Null\u0000byte"}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "Fine", "description": "nul \u0000 inside"}, "description"),
])
def test_creating_a_sequence_with_a_bad_name_is_a_422_naming_the_field(api, tenant, body, field):
    response = send(api, "post", reverse("api:sequences"), body)

    assert response.status_code == 422
    assert field in errors_of(response)
    assert not Sequence.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize("body, field", [
    ({"name": "x" * 201}, "name"),
    ({"name": "a\u0000b"}, "name"),
    ({"reenroll_after_days": 2**31}, "reenroll_after_days"),
    ({"approval_expiry_hours": 2**40}, "approval_expiry_hours"),
    ({"reenroll_after_days": "12"}, "reenroll_after_days"),
    ({"agent_id": 2**63}, "agent_id"),
    ({"agent_id": "1"}, "agent_id"),
    ({"stop_on_reply": None}, "stop_on_reply"),
])
def test_patching_with_out_of_range_or_wrong_values_is_a_422(api, outsider_api, sequence, body, field):
    url = reverse("api:sequence", args=[sequence.pk])

    response = send(api, "patch", url, body)

    assert response.status_code == 422
    assert field in errors_of(response)
    # The outsider learns nothing from a hostile body: our sequence is still a 404.
    assert send(outsider_api, "patch", url, body).status_code == 404
    sequence.refresh_from_db()
    assert (sequence.name, sequence.version) == ("Kept as it was", 1)


@pytest.mark.parametrize("body, field", [
    ({"emails": ["ada\u0000@example.com"]}, "emails"),
    ({"emails": ["x" * 100_000]}, "emails"),
    ({"emails": [{"an": "object"}]}, "emails"),
    ({"contact_ids": [2**63]}, "contact_ids"),
    ({"contact_ids": "1,2"}, "contact_ids"),
    ({"list_id": 2**63}, "list_id"),
    ({"list_id": "7"}, "list_id"),
])
def test_enrolling_with_hostile_values_is_a_422_and_enrolls_nobody(api, outsider_api, tenant, sequence, body, field):
    ContactFactory(tenant=tenant, email="ada@example.com")
    url = reverse("api:sequence-enroll", args=[sequence.pk])

    response = send(api, "post", url, body)

    assert response.status_code == 422
    assert field in errors_of(response)
    assert send(outsider_api, "post", url, body).status_code == 404
    assert not Enrollment.objects.filter(sequence=sequence).exists()


@pytest.mark.parametrize("raw, says", [
    (b"[" * DEEP + b"]" * DEEP, "nested"),
    (b'{"name": ' + b'{"a": ' * DEEP + b"1" + b"}" * DEEP + b"}", "nested"),
    (b'{"name": "\xff\xfe"}', "UTF-8"),
    (b'{"name": NaN}', "JSON"),
    (b'{"name": "' + b"9" * 5000 + b'"}', None),
    (b'{"reenroll_after_days": ' + b"9" * 5000 + b"}", None),
])
def test_a_malformed_or_deep_body_is_a_clear_4xx(api, sequence, raw, says):
    for method, url in (("post", reverse("api:sequences")), ("patch", reverse("api:sequence", args=[sequence.pk])),
                        ("post", reverse("api:sequence-enroll", args=[sequence.pk]))):
        response = send(api, method, url, raw)
        errors = errors_of(response)
        if says:
            assert says in " ".join(m for messages in errors.values() for m in messages), errors
    sequence.refresh_from_db()
    assert sequence.version == 1


def test_a_huge_id_in_the_path_is_a_404(api, outsider_api):
    for name in ("api:sequence", "api:sequence-analytics"):
        assert api.get(reverse(name, args=[2**64])).status_code == 404
        assert outsider_api.get(reverse(name, args=[2**64])).status_code == 404
