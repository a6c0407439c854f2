"""With an SMS auth token configured, the SMS webhook also checks Twilio's request
signature (X-Twilio-Signature: base64 HMAC-SHA1 of the full URL followed by the sorted
POST parameters, keyed with the auth token). The shared secret is checked as before."""
import base64
import hashlib
import hmac

import pytest
from django.test import Client

from contacts.models import ContactEvent
from messaging.services.sms import twilio_signature
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

TOKEN = "tok3n"
FORM = {"From": "+14155550142", "Body": "STOP"}


def independent_signature(token, url, params):
    """Twilio's documented algorithm, written out here on its own."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def signed(settings, tenant):
    settings.SMS_AUTH_TOKEN = TOKEN
    return ContactFactory(tenant=tenant, phone="+14155550142")


def _post(tenant, *, signature, secret=None, query="", form=FORM):
    client = Client(raise_request_exception=False)
    headers = {"HTTP_X_SCENDCORE_SECRET": secret or tenant.inbound_secret}
    if signature is not None:
        headers["HTTP_X_TWILIO_SIGNATURE"] = signature
    return client.post(f"/hooks/sms/{tenant.slug}/{query}", form, **headers)


def test_the_documented_example_and_our_own_vectors():
    # Twilio's documentation example, and two vectors computed with `openssl dgst -sha1 -hmac`.
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=" == independent_signature("12345", url, params)
    assert twilio_signature(TOKEN, "http://testserver/hooks/sms/acme/", FORM) == "TH1M51UtBEcsi2epc1eL+byqzGI="
    assert twilio_signature(TOKEN, "http://testserver/hooks/sms/acme/?channel=twilio", FORM) == "gotNvKBfAVxaAoxMZLg2XQzVikI="


def test_a_correctly_signed_request_is_accepted(tenant, signed):
    response = _post(tenant, signature="TH1M51UtBEcsi2epc1eL+byqzGI=")

    assert response.status_code == 200, response.content
    signed.refresh_from_db()
    assert signed.sms_opted_out_at is not None


def test_the_query_string_is_part_of_the_signed_url(tenant, signed):
    assert _post(tenant, signature="gotNvKBfAVxaAoxMZLg2XQzVikI=", query="?channel=twilio").status_code == 200
    assert _post(tenant, signature="TH1M51UtBEcsi2epc1eL+byqzGI=", query="?channel=twilio").status_code == 403


@pytest.mark.parametrize("signature", [
    None, "", "not base64 at all", independent_signature("wrong-token", "http://testserver/hooks/sms/acme/", FORM),
    independent_signature(TOKEN, "http://testserver/hooks/sms/acme/", {**FORM, "Body": "hello"}),
    independent_signature(TOKEN, "http://testserver/hooks/sms/outsider/", FORM),
])
def test_a_missing_forged_or_replayed_signature_is_refused(tenant, signed, signature):
    response = _post(tenant, signature=signature)

    assert response.status_code == 403
    assert "signature" in response.json()["error"]
    signed.refresh_from_db()
    assert signed.sms_opted_out_at is None
    assert not ContactEvent.objects.filter(contact=signed).exists()


def test_the_shared_secret_is_still_required_with_a_good_signature(tenant, other_tenant, signed):
    good = independent_signature(TOKEN, "http://testserver/hooks/sms/acme/", FORM)
    assert _post(tenant, signature=good, secret=other_tenant.inbound_secret).status_code == 403
    signed.refresh_from_db()
    assert signed.sms_opted_out_at is None


def test_without_an_auth_token_the_secret_alone_is_enough(settings, tenant):
    settings.SMS_AUTH_TOKEN = ""
    contact = ContactFactory(tenant=tenant, phone="+14155550142")
    assert _post(tenant, signature=None).status_code == 200
    contact.refresh_from_db()
    assert contact.sms_opted_out_at is not None
