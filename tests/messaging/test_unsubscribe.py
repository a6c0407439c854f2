"""Unsubscribe: signed links, a GET that never unsubscribes, one-click POST."""
import re
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client

from contacts.models import ContactEvent
from messaging.models import MessageState
from messaging.services import compliance
from messaging.services.delivery import deliver_due, message_enqueue
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db


def _path(contact):
    return f"/u/{compliance.unsubscribe_token(tenant_id=contact.tenant_id, contact_id=contact.pk)}/"


def test_a_get_shows_a_confirm_button_and_changes_nothing(client, tenant):
    contact = ContactFactory(tenant=tenant)

    response = client.get(_path(contact))

    assert response.status_code == 200
    assert b'<button type="submit"' in response.content and b"Unsubscribe" in response.content
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None
    assert not ContactEvent.objects.filter(contact=contact).exists()


def test_a_one_click_post_without_cookies_or_csrf_unsubscribes_and_cancels_queued_mail(tenant):
    contact = ContactFactory(tenant=tenant)
    first = EnrollmentFactory(tenant=tenant, contact=contact, sequence=SequenceFactory(tenant=tenant))
    second = EnrollmentFactory(tenant=tenant, contact=contact, sequence=SequenceFactory(tenant=tenant))
    queued = make_message(tenant=tenant, enrollment=first, state=MessageState.QUEUED)
    awaiting = make_message(tenant=tenant, enrollment=second, state=MessageState.PENDING_APPROVAL)
    mail_client = Client(enforce_csrf_checks=True)  # a mail provider: no session, no CSRF token

    response = mail_client.post(_path(contact), data="List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    contact.refresh_from_db(); queued.refresh_from_db(); awaiting.refresh_from_db()
    first.refresh_from_db(); second.refresh_from_db()
    assert contact.unsubscribed_at is not None
    assert ContactEvent.objects.get(contact=contact, kind="unsubscribed").data == {"source": "one-click"}
    assert (queued.state, awaiting.state) == (MessageState.CANCELLED, MessageState.CANCELLED)
    assert first.status == second.status == "unenrolled"
    assert first.exit_reason == "unsubscribed"


def test_unsubscribing_twice_records_one_event(client, tenant):
    contact = ContactFactory(tenant=tenant)
    client.post(_path(contact))
    client.post(_path(contact))
    assert ContactEvent.objects.filter(contact=contact, kind="unsubscribed").count() == 1


def test_a_tampered_token_changes_nothing(client, tenant):
    contact = ContactFactory(tenant=tenant)
    other = ContactFactory(tenant=tenant)
    token = compliance.unsubscribe_token(tenant_id=tenant.pk, contact_id=contact.pk)
    forged_payload = signing.dumps({"t": tenant.pk, "c": other.pk}, salt="wrong-salt", compress=True)
    tampered = [token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], forged_payload,
                token.split(":")[0] + ":" + forged_payload.split(":", 1)[1]]

    for bad in tampered:
        assert client.post(f"/u/{bad}/").status_code == 400
        assert client.get(f"/u/{bad}/").status_code == 400

    contact.refresh_from_db(); other.refresh_from_db()
    assert contact.unsubscribed_at is None and other.unsubscribed_at is None


def test_a_token_still_works_after_sixty_days(client, tenant, monkeypatch):
    import time

    contact = ContactFactory(tenant=tenant)
    path = _path(contact)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + timedelta(days=61).total_seconds())

    assert client.post(path).status_code == 200
    contact.refresh_from_db()
    assert contact.unsubscribed_at is not None


def test_another_tenants_token_only_touches_its_own_contact(client, tenant, other_tenant):
    ours = ContactFactory(tenant=tenant)
    theirs = ContactFactory(tenant=other_tenant)
    # A token naming our contact under the outsider tenant is signed correctly but
    # matches no contact of that tenant: nothing happens to ours.
    mixed = compliance.unsubscribe_token(tenant_id=other_tenant.pk, contact_id=ours.pk)

    client.post(f"/u/{mixed}/")
    client.post(_path(theirs))

    ours.refresh_from_db(); theirs.refresh_from_db()
    assert ours.unsubscribed_at is None
    assert theirs.unsubscribed_at is not None


def test_the_link_in_a_sent_email_unsubscribes(client, tenant, sequence, smtp_server):
    message = message_enqueue(message=make_message(tenant=tenant, sequence=sequence, state=MessageState.APPROVED))
    deliver_due()
    header = smtp_server.messages[0]["List-Unsubscribe"]
    url = re.search(r"<(http[^>]+)>", header).group(1)

    response = Client(enforce_csrf_checks=True).post(url.replace("http://127.0.0.1:8000", ""),
                                                       {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    message.contact.refresh_from_db()
    assert message.contact.unsubscribed_at is not None
