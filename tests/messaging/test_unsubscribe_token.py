"""The unsubscribe link's token is opaque: it names no tenant, contact or address that
anyone could read from it, and it still works after the contact is gone. Links sent in
the old signed format keep working until they expire; the format is never issued again."""
import base64
import binascii
import re
import time
import zlib
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client

from contacts.models import Contact, Suppression
from contacts.services.contacts import contacts_delete
from contacts.suppression import address_hash, suppression_reason
from messaging.models import MessageState
from messaging.services import compliance
from messaging.services.delivery import deliver_due, message_enqueue
from messaging.services.tokens import token_sign
from tests.factories import ContactFactory, TenantFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db

TENANT_ID, CONTACT_ID = 424242, 987654321


def _decodings(token):
    """Everything a curious reader could get out of the token: each piece base64-decoded
    (and inflated, as Django's signer compresses)."""
    pieces = {token, *re.split(r"[:.]", token)}
    out = []
    for piece in pieces:
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                raw = decode(piece + "=" * (-len(piece) % 4))
            except (binascii.Error, ValueError):
                continue
            out.append(raw)
            try:
                out.append(zlib.decompress(raw))
            except zlib.error:
                pass
    return out


def _readable(token, *values):
    needles = set()
    for value in values:
        if isinstance(value, int):
            needles |= {str(value).encode(), value.to_bytes(8, "big"), value.to_bytes(8, "little"),
                        value.to_bytes(4, "big"), value.to_bytes(4, "little")}
        else:
            needles.add(value.encode())
    return [raw for raw in _decodings(token) for needle in needles if needle in raw] + \
        [token for needle in needles if needle in token.encode()]


def test_the_token_reveals_no_ids_and_no_address():
    tenant = TenantFactory(id=TENANT_ID)
    contact = ContactFactory(tenant=tenant, id=CONTACT_ID, email="pat@acme.example")
    legacy = token_sign({"t": TENANT_ID, "c": CONTACT_ID}, salt=compliance.UNSUBSCRIBE_SALT, timestamped=True)
    assert _readable(legacy, TENANT_ID, CONTACT_ID)  # the old format gave both ids away

    token = compliance.unsubscribe_token(tenant_id=tenant.pk, contact_id=contact.pk, address=contact.email)

    assert _readable(token, TENANT_ID, CONTACT_ID, "pat@acme.example", '{"', address_hash(contact.email)) == []
    again = compliance.unsubscribe_token(tenant_id=tenant.pk, contact_id=contact.pk, address=contact.email)
    assert again != token  # two emails to one person carry unrelated tokens
    assert compliance.unsubscribe_token_read(token)[:2] == (TENANT_ID, CONTACT_ID)


def test_the_link_in_a_sent_email_is_opaque_and_not_the_old_format(tenant, sequence, smtp_server):
    message = message_enqueue(message=make_message(tenant=tenant, sequence=sequence, state=MessageState.APPROVED))
    deliver_due()
    sent = smtp_server.messages[0]
    token = re.search(r"/u/([^/>]+)/>", sent["List-Unsubscribe"]).group(1)

    with pytest.raises(signing.BadSignature):
        signing.TimestampSigner(salt=compliance.UNSUBSCRIBE_SALT).unsign_object(token)
    # (Small ids would turn up in random bytes by chance: the ids are checked above, with big ones.)
    assert _readable(token, message.contact.email, '{"') == []
    assert token in sent.get_body(("plain",)).get_content()


def test_a_link_sent_in_the_old_format_still_unsubscribes(client, tenant):
    contact = ContactFactory(tenant=tenant)
    legacy = token_sign({"t": tenant.pk, "c": contact.pk}, salt=compliance.UNSUBSCRIBE_SALT, timestamped=True)

    assert client.post(f"/u/{legacy}/").status_code == 200

    contact.refresh_from_db()
    assert contact.unsubscribed_at is not None


def test_unsubscribing_after_the_contact_was_deleted_still_suppresses_the_address(tenant, sequence, smtp_server):
    message = message_enqueue(message=make_message(tenant=tenant, sequence=sequence, state=MessageState.APPROVED))
    deliver_due()
    url = re.search(r"<(http[^>]+)>", smtp_server.messages[0]["List-Unsubscribe"]).group(1)
    address = message.contact.email
    contacts_delete(tenant=tenant, contact_ids=[message.contact_id], actor=None)

    response = Client(enforce_csrf_checks=True).post(url.replace("http://127.0.0.1:8000", ""),
                                                       {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    entry = Suppression.objects.get(tenant=tenant, address_hash=address_hash(address))
    assert entry.reason == "unsubscribed"
    assert suppression_reason(ContactFactory(tenant=tenant, email=address)) == "unsubscribed"


def test_a_token_older_than_a_year_is_refused(client, tenant, monkeypatch):
    contact = ContactFactory(tenant=tenant)
    path = f"/u/{compliance.unsubscribe_token(tenant_id=tenant.pk, contact_id=contact.pk, address=contact.email)}/"
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + timedelta(days=366).total_seconds())

    assert client.post(path).status_code == 400
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None


def test_a_token_for_another_tenant_never_touches_ours(client, tenant, other_tenant):
    ours = ContactFactory(tenant=tenant, email="same@acme.example")
    theirs = ContactFactory(tenant=other_tenant, email="same@acme.example")

    client.post(f"/u/{compliance.unsubscribe_token(tenant_id=other_tenant.pk, contact_id=theirs.pk, address=theirs.email)}/")

    ours.refresh_from_db()
    assert ours.unsubscribed_at is None and suppression_reason(ours) is None
    assert Contact.objects.get(pk=theirs.pk).unsubscribed_at is not None
