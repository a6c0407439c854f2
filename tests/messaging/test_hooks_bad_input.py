"""The meeting and SMS webhooks answer hostile payloads with a clear 4xx, never a 500,
and change nothing."""
import pytest
from django.test import Client

from contacts.models import ContactEvent
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory

pytestmark = pytest.mark.django_db

DEEP = 100_000
# Deep enough to exhaust Python's recursion, small enough to pass the 64 KB size limit.
DEEP_UNDER_LIMIT = 30_000


@pytest.fixture
def hooks():
    return Client(raise_request_exception=False)


@pytest.fixture
def enrolled(tenant):
    contact = ContactFactory(tenant=tenant, email="pat@example.com", phone="+14155550142")
    sequence = SequenceFactory(tenant=tenant, status="active", stop_on_reply=True, stop_on_meeting=True)
    return contact, EnrollmentFactory(tenant=tenant, contact=contact, sequence=sequence)


def _untouched(contact, enrollment):
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert not ContactEvent.objects.filter(contact=contact).exists()


@pytest.mark.parametrize("raw, status, says", [
    (b"[" * DEEP_UNDER_LIMIT + b"]" * DEEP_UNDER_LIMIT, 400, "nested"),
    (b'{"email": "pat@example.com", "source": ' + b"[" * DEEP_UNDER_LIMIT + b"]" * DEEP_UNDER_LIMIT + b"}", 400, "nested"),
    (b'{"email": "pat@example.com", "source": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "nested"),
    (b'{"email": "pat@example.com", "source": "cal\\u0000endly"}', 422, "Null characters"),
    (b'{"email": "pat\\u0000@example.com"}', 422, "Null characters"),
    (b'{"email": "pat@example.com", "source": "\xff"}', 400, "UTF-8"),
])
def test_the_meeting_hook_refuses_deep_json_nul_and_bad_utf8(hooks, tenant, other_tenant, enrolled, raw, status, says):
    contact, enrollment = enrolled

    response = hooks.post(f"/hooks/meetings/{tenant.slug}/", data=raw, content_type="application/json",
                          HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret)

    assert response.status_code == status, response.content[:300]
    assert says in str(response.json()["errors"])
    # 100,000 levels do not even fit the size limit.
    assert hooks.post(f"/hooks/meetings/{tenant.slug}/", data=b"[" * DEEP + b"]" * DEEP, content_type="application/json",
                      HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret).status_code == 413
    # The outsider's own secret opens nothing of ours, whatever the body.
    assert hooks.post(f"/hooks/meetings/{tenant.slug}/", data=raw, content_type="application/json",
                      HTTP_X_SCENDCORE_SECRET=other_tenant.inbound_secret).status_code == 403
    _untouched(contact, enrollment)


@pytest.mark.parametrize("form, field", [
    ({"From": "+14155550142", "Body": "call me\x00 maybe"}, "Body"),
    ({"From": "+1415555\x000142", "Body": "STOP"}, "From"),
    ({"From": "+14155550142" * 1000, "Body": "STOP"}, "From"),
])
def test_the_sms_hook_refuses_nul_bytes_and_overlong_numbers(hooks, tenant, other_tenant, enrolled, form, field):
    contact, enrollment = enrolled

    response = hooks.post(f"/hooks/sms/{tenant.slug}/", form, HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret)

    assert response.status_code == 422, response.content[:300]
    assert field in response.json()["errors"]
    assert hooks.post(f"/hooks/sms/{tenant.slug}/", form,
                      HTTP_X_SCENDCORE_SECRET=other_tenant.inbound_secret).status_code == 403
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is None
    _untouched(contact, enrollment)
