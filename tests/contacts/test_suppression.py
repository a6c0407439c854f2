"""The suppression list: an unsubscribe, a bounce or a do-not-contact outlives the
contact, every way in (import, form, API, enrollment, processor, delivery, review)
asks the one rule, and an erased person leaves nothing behind but a keyed hash."""
import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ImportRejectedRow, Suppression
from contacts.services.contacts import contact_create, contacts_delete, contacts_mark_do_not_contact
from contacts.services.imports import import_prepare, import_start
from contacts.services.suppressions import person_erase, suppression_add
from contacts.suppression import address_hash, suppression_reason
from messaging.models import InboundMessage, MessageState, OutboundMessage
from messaging.services import compliance
from messaging.services.delivery import deliver_due
from scendcore.api import api_token_create
from scendcore.models import AuditEntry
from sequences.models import Enrollment
from sequences.services.enrollments import enrollment_create, enrollments_bulk_create
from tests.factories import ContactFactory, SequenceFactory, StepFactory
from tests.messaging.conftest import mailbox, make_message, smtp_server  # noqa: F401 - fixtures
from tests.messaging.test_inbound import dsn_mime, post, reply_mime
from tests.sequences.engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_sequence(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=sequence)
    return sequence


def _import(tenant, text, capture):
    job = import_prepare(tenant=tenant, file_name="again.csv", raw=text.encode(), actor=None)
    with capture(execute=True):
        import_start(tenant=tenant, job=job, mapping=job.mapping, duplicate_policy="skip", actor=None)
    job.refresh_from_db()
    return job


def _unsubscribed_then_deleted(tenant, address="pat@acme.example"):
    contact = ContactFactory(tenant=tenant, email=address)
    compliance.contact_unsubscribe(tenant=tenant, contact_id=contact.pk, source="link")
    contacts_delete(tenant=tenant, contact_ids=[contact.pk], actor=None)
    assert not Contact.objects.filter(tenant=tenant).exists()


# ------------------------------------------------------------------ the attack: delete, then add again


def test_an_unsubscribe_survives_deleting_the_contact_and_importing_the_address_again(
    tenant, active_sequence, django_capture_on_commit_callbacks
):
    _unsubscribed_then_deleted(tenant)

    job = _import(tenant, "Email,First Name\nPat@Acme.example ,Pat\nnew@acme.example,New\n",
                  django_capture_on_commit_callbacks)

    assert (job.created_count, job.suppressed_count) == (2, 1)
    again = Contact.objects.get(tenant=tenant, email__iexact="pat@acme.example")
    assert suppression_reason(again) == "unsubscribed"
    result = enrollments_bulk_create(tenant=tenant, sequence=active_sequence,
                                     contact_ids=Contact.objects.filter(tenant=tenant).values("pk"), actor=None)
    assert result.enrolled == 1 and result.skipped["unsubscribed"] == 1
    assert not Enrollment.objects.filter(contact=again).exists()


def test_a_bounced_address_typed_in_again_is_added_but_never_enrolled(client, tenant, rep, active_sequence):
    sent = make_message(tenant=tenant, state=MessageState.SENT, message_id="<b@scendly.example>",
                        sent_at=timezone.now())
    address = sent.contact.email
    post(client, tenant, dsn_mime(sent))
    contacts_delete(tenant=tenant, contact_ids=[sent.contact_id], actor=None)
    client.force_login(rep)

    response = client.post(reverse("contacts:new"), {"email": address, "first_name": "Back", "lead_status": "new",
                                                     "score_band": "cold"}, follow=True)

    assert response.status_code == 200
    assert "is on the suppression list (bounced)" in response.content.decode()
    again = Contact.objects.get(tenant=tenant, email=address)
    with pytest.raises(ValidationError, match="bounced"):
        enrollment_create(tenant=tenant, sequence=active_sequence, contact=again, actor=rep)


def test_the_api_skips_an_address_unsubscribed_before_its_contact_was_recreated(client, tenant, rep, active_sequence):
    _unsubscribed_then_deleted(tenant)
    ContactFactory(tenant=tenant, email="pat@acme.example")
    key = api_token_create(tenant=tenant, user=rep, name="crm")

    response = client.post(reverse("api:sequence-enroll", args=[active_sequence.pk]),
                           data=json.dumps({"emails": ["pat@acme.example"]}), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 200
    assert response.json()["enrolled"] == 0 and response.json()["skipped"] == {"unsubscribed": 1}


def test_do_not_contact_survives_deleting_the_contact(tenant, active_sequence):
    contact = ContactFactory(tenant=tenant, email="dnc@acme.example")
    contacts_mark_do_not_contact(tenant=tenant, contact_ids=[contact.pk], actor=None)
    contacts_delete(tenant=tenant, contact_ids=[contact.pk], actor=None)

    again = contact_create(tenant=tenant, data={"email": "DNC@acme.example"}, actor=None)

    assert suppression_reason(again) == "suppressed"
    with pytest.raises(ValidationError):
        enrollment_create(tenant=tenant, sequence=active_sequence, contact=again, actor=None)


def test_an_outsiders_list_does_not_suppress_our_contact(tenant, other_tenant):
    suppression_add(tenant=other_tenant, addresses=["pat@acme.example"], reason="unsubscribed", source="test")
    ours = ContactFactory(tenant=tenant, email="pat@acme.example")
    assert suppression_reason(ours) is None


# ------------------------------------------------------------------ send time and the processor


def test_delivery_cancels_a_queued_message_to_an_address_listed_after_it_was_queued(tenant, smtp_server, mailbox):  # noqa: F811
    sequence = SequenceFactory(tenant=tenant, sender_profile=mailbox, status="active")
    message = make_message(tenant=tenant, sequence=sequence, state=MessageState.QUEUED)
    suppression_add(tenant=tenant, addresses=[message.contact.email.upper()], reason="complaint", source="test")

    report = deliver_due()

    message.refresh_from_db()
    assert report["cancelled"] == 1 and message.state == MessageState.CANCELLED
    assert "spam complaint" in message.error
    assert smtp_server.messages == []


def _suppression_queries(captured):
    return [q["sql"] for q in captured.captured_queries if "contacts_suppression" in q["sql"]]


def test_the_processor_exits_listed_contacts_with_one_list_query_per_batch(tenant):
    sequence, (first, *_) = running_sequence(tenant)
    listed = [due_enrollment(sequence, first) for _ in range(3)]
    free = [due_enrollment(sequence, first) for _ in range(17)]
    suppression_add(tenant=tenant, addresses=[e.contact.email for e in listed], reason="hard_bounce", source="test")

    with CaptureQueriesContext(connection) as captured:
        sweep_inline(now=WEDNESDAY)

    assert len(_suppression_queries(captured)) == 1
    for e in listed:
        e.refresh_from_db()
        assert (e.status, e.exit_reason) == ("unenrolled", "bounced")
    assert not OutboundMessage.objects.filter(enrollment__in=listed).exists()
    assert OutboundMessage.objects.filter(enrollment__in=free).count() == 17


def test_the_approval_card_says_the_address_is_suppressed(client, tenant, manager):
    from tests.approvals.builders import pending_approval

    approval = pending_approval(tenant=tenant)
    suppression_add(tenant=tenant, addresses=[approval.message.contact.email], reason="manual", source="test")
    client.force_login(manager)

    page = client.get(reverse("approvals:queue")).content.decode()

    assert "Cannot be sent: The contact has an address on the suppression list." in page


# ------------------------------------------------------------------ the hash


def test_entries_are_keyed_hmacs_of_the_normalized_address(tenant, settings):
    settings.SUPPRESSION_HASH_KEY = "key-one"
    first = address_hash("  Pat@ACME.example ")
    assert first == address_hash("pat@acme.example")
    assert first != hashlib.sha256(b"pat@acme.example").hexdigest()  # not a bare digest anyone can recompute
    settings.SUPPRESSION_HASH_KEY = "key-two"
    assert address_hash("pat@acme.example") != first
    assert address_hash("pat+news@acme.example") != address_hash("pat@acme.example")  # exact addresses
    assert len(first) == 64 and hmac.compare_digest(first, first)


# ------------------------------------------------------------------ erasure


@pytest.fixture
def person(client, tenant, sequence_with_history):
    return sequence_with_history


@pytest.fixture
def sequence_with_history(client, tenant, django_capture_on_commit_callbacks):
    """A contact with a sent message, a reply, an event, an audit row and an import row."""
    job = _import(tenant, "Email,First Name\npat@acme.example,Pat\npat@acme.example,Twice\n",
                  django_capture_on_commit_callbacks)
    contact = Contact.objects.get(tenant=tenant, email="pat@acme.example")
    contact_create(tenant=tenant, data={"email": "other@acme.example"}, actor=None)
    sent = make_message(tenant=tenant, contact=contact, state=MessageState.SENT,
                        message_id="<e@scendly.example>", sent_at=timezone.now())
    post(client, tenant, reply_mime(sent, body="Please call me on +1 415 555 0100"))
    assert InboundMessage.objects.filter(contact=contact).exists()
    assert ImportRejectedRow.objects.filter(job=job, email="pat@acme.example").exists()
    return contact, job


def _mentions(address):
    """Rows of the tables that hold people's data and still contain `address`."""
    found = []
    with connection.cursor() as cursor:
        for table in ("contacts_contact", "contacts_contactevent", "contacts_importrejectedrow",
                      "contacts_importjob", "contacts_suppression", "messaging_outboundmessage",
                      "messaging_inboundmessage", "messaging_inboundquarantine", "scendcore_auditentry",
                      "sequences_activity"):
            cursor.execute(f"SELECT count(*) FROM {table} t WHERE lower(t::text) LIKE %s", [f"%{address}%"])
            if cursor.fetchone()[0]:
                found.append(table)
    return found


def test_an_admin_erases_a_person_and_only_the_hash_remains(client, tenant, admin, person,
                                                            django_capture_on_commit_callbacks):
    contact, job = person
    assert _mentions("pat@acme.example")
    client.force_login(admin)

    response = client.post(reverse("contacts:erase", args=[contact.pk]), {"confirm": "PAT@acme.example"})

    assert response.status_code == 302
    assert _mentions("pat@acme.example") == []
    entry = Suppression.objects.get(tenant=tenant, address_hash=address_hash("pat@acme.example"))
    assert entry.address == "" and entry.erased_at is not None
    assert AuditEntry.objects.filter(tenant=tenant, object_type="suppression", action="erased", actor=admin).exists()
    assert Contact.objects.filter(tenant=tenant, email="other@acme.example").exists()  # nobody else

    again = _import(tenant, "Email,First Name\nnew@acme.example,New\npat@acme.example,Pat\n",
                    django_capture_on_commit_callbacks)
    assert again.created_count == 1
    refused = again.rejected_rows.get()
    assert refused.line == 3 and "erased at the person's request" in refused.reason
    assert refused.email == "" and refused.values == []
    with pytest.raises(ValidationError) as caught:
        contact_create(tenant=tenant, data={"email": "Pat@acme.example"}, actor=admin)
    assert "email" in caught.value.message_dict


def test_the_contact_form_refuses_an_erased_address_inline(client, tenant, admin):
    person_erase(tenant=tenant, address="gone@acme.example", actor=admin)
    client.force_login(admin)

    response = client.post(reverse("contacts:new"), {"email": "gone@acme.example", "lead_status": "new",
                                                     "score_band": "cold"})

    assert response.status_code == 422
    assert "erased at the person" in response.content.decode()
    assert not Contact.objects.filter(tenant=tenant).exists()


def test_editing_a_contact_to_an_erased_address_is_refused_inline(client, tenant, admin):
    person_erase(tenant=tenant, address="gone@acme.example", actor=admin)
    contact = ContactFactory(tenant=tenant, email="here@acme.example")
    client.force_login(admin)

    response = client.post(reverse("contacts:edit", args=[contact.pk]), {
        "email": "gone@acme.example", "lead_status": "new", "score_band": "cold"})

    assert response.status_code == 422
    assert "erased at the person" in response.content.decode()
    contact.refresh_from_db()
    assert contact.email == "here@acme.example"


def test_a_wrong_confirmation_erases_nothing(client, tenant, admin, person):
    contact, _ = person
    client.force_login(admin)

    response = client.post(reverse("contacts:erase", args=[contact.pk]), {"confirm": "someone@else.example"})

    assert response.status_code == 422
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_only_admins_may_erase(client, tenant, manager, rep, person):
    contact, _ = person
    for user in (manager, rep):
        client.force_login(user)
        assert client.post(reverse("contacts:erase", args=[contact.pk]), {"confirm": contact.email}).status_code == 403
        assert client.post(reverse("contacts:suppression-erase"),
                           {"address": contact.email, "confirm": contact.email}).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_outsider_cannot_erase_or_see_our_people(client, tenant, outsider, person):
    contact, _ = person
    client.force_login(outsider)

    assert client.post(reverse("contacts:erase", args=[contact.pk]), {"confirm": contact.email}).status_code == 404
    # Erasing by address in their own workspace touches only their own workspace.
    client.post(reverse("contacts:suppression-erase"), {"address": contact.email, "confirm": contact.email})
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert InboundMessage.objects.filter(contact=contact).exists()
    assert not Suppression.objects.filter(tenant=tenant).exists()


# ------------------------------------------------------------------ the list page


def test_managers_see_the_list_and_erased_entries_show_no_address(client, tenant, manager):
    suppression_add(tenant=tenant, addresses=["kept@acme.example"], reason="unsubscribed", source="link")
    person_erase(tenant=tenant, address="gone@acme.example", actor=None)
    client.force_login(manager)

    page = client.get(reverse("contacts:suppression")).content.decode()

    assert "kept@acme.example" in page and "gone@acme.example" not in page
    assert address_hash("gone@acme.example")[:12] in page
    found = client.get(reverse("contacts:suppression"), {"q": "GONE@acme.example"}).content.decode()
    assert "Erased at the person" in found and "kept@acme.example" not in found
    assert client.post(reverse("contacts:suppression-add"), {"addresses": "x@acme.example"}).status_code == 403


def test_an_admin_adds_addresses_and_their_contacts_stop(client, tenant, admin, active_sequence):
    contact = ContactFactory(tenant=tenant, email="stop@acme.example")
    enrollment = enrollment_create(tenant=tenant, sequence=active_sequence, contact=contact, actor=admin)
    client.force_login(admin)

    response = client.post(reverse("contacts:suppression-add"), {"addresses": "Stop@acme.example\nnew@acme.example"})

    assert response.status_code == 302
    assert set(Suppression.objects.filter(tenant=tenant).values_list("address", "reason")) == {
        ("stop@acme.example", "manual"), ("new@acme.example", "manual")}
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.exit_reason) == ("unenrolled", "suppressed")
    bad = client.post(reverse("contacts:suppression-add"), {"addresses": "not an address"})
    assert bad.status_code == 422 and "Not an email address" in bad.content.decode()


def test_the_outsider_sees_nothing_of_our_list(client, tenant, outsider):
    suppression_add(tenant=tenant, addresses=["ours@acme.example"], reason="unsubscribed", source="link")
    client.force_login(outsider)
    for query in ({}, {"q": "ours@acme.example"}, {"q": "ours"}):
        page = client.get(reverse("contacts:suppression"), query).content.decode()
        assert 'id="suppression-entries"' not in page and "Unsubscribed" not in page


def test_hostile_input_on_the_list_page_gets_a_4xx_never_a_500(client, tenant, admin):
    client.force_login(admin)
    assert client.get(reverse("contacts:suppression"), {"q": "pat\x00@acme.example"}).status_code == 200
    assert client.get(reverse("contacts:suppression"), {"q": "x" * 5000}).status_code == 200
    for address in ("pat\x00@acme.example", "not an address", "a" * 300 + "@acme.example"):
        response = client.post(reverse("contacts:suppression-erase"), {"address": address, "confirm": address})
        assert response.status_code == 422, address
        assert client.post(reverse("contacts:suppression-add"), {"addresses": address}).status_code == 422
    assert not Suppression.objects.exists()
