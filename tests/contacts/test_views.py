"""Contacts, profile and lists pages: filters, HTMX partials, bulk actions, the outsider."""
import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, ContactList, ListMembership, Tag
from sequences.models import Activity, Enrollment
from tests.dates import day_text
from tests.factories import (
    ContactFactory,
    ContactListFactory,
    EnrollmentFactory,
    ImportJobFactory,
    SequenceFactory,
    StepFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(tenant):
    seq = SequenceFactory(tenant=tenant, status="active", name="Spring outreach")
    StepFactory(sequence=seq, delay_value=1)
    return seq


def test_the_contacts_page_searches_and_filters_and_answers_htmx_with_the_table_only(manager_client, tenant, other_tenant):
    ContactFactory(tenant=tenant, first_name="Ada", last_name="Lovelace", company="Engines", lead_status="qualified")
    ContactFactory(tenant=tenant, first_name="Bob", last_name="Builder", company="Engines", lead_status="new")
    ContactFactory(tenant=tenant, first_name="Cy", last_name="Other", company="Mills", lead_status="qualified")
    ContactFactory(tenant=other_tenant, first_name="Ada", last_name="Outsider", company="Engines")

    page = manager_client.get(reverse("contacts:index"), {"q": "ada engines"}).content.decode()
    assert "Lovelace" in page and "Builder" not in page and "Outsider" not in page

    partial = manager_client.get(reverse("contacts:index"), {"status": "qualified", "sort": "-name"}, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert body.lstrip().startswith('<div id="contact-table">')
    assert body.index("Other") < body.index("Lovelace") and "Builder" not in body


def test_filters_by_list_tag_owner_and_sequence_membership(rep_client, tenant, rep, sequence):
    listed, tagged, owned, enrolled = (ContactFactory(tenant=tenant, last_name=n) for n in
                                       ("Listed", "Tagged", "Owned", "Enrolled"))
    contact_list = ContactListFactory(tenant=tenant)
    contact_list.contacts.add(listed)
    tag = Tag.objects.create(tenant=tenant, name="vip")
    tagged.tags.add(tag)
    owned.owner = rep
    owned.save()
    EnrollmentFactory(tenant=tenant, sequence=sequence, contact=enrolled)

    def names(**params):
        params.setdefault("owner", "")  # the whole workspace, not only the rep's own
        body = rep_client.get(reverse("contacts:index"), params).content.decode()
        return {n for n in ("Listed", "Tagged", "Owned", "Enrolled") if n in body}

    assert names(list=contact_list.pk) == {"Listed"}
    assert names(tag=tag.pk) == {"Tagged"}
    assert names(owner=rep.pk) == {"Owned"}
    assert names(in_sequence="yes") == {"Enrolled"}
    assert names(in_sequence="no") == {"Listed", "Tagged", "Owned"}


def test_the_table_does_not_query_per_row(rep_client, rep, tenant, sequence):
    """Owned by the rep, so the rep's default "my contacts" view really renders the rows
    (owner, tags and open enrollments all shown): 30 rows cost what 1 row costs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add_contact(i):
        c = ContactFactory(tenant=tenant, owner=rep)
        c.tags.add(Tag.objects.get_or_create(tenant=tenant, name=f"t{i % 3}")[0])
        EnrollmentFactory(tenant=tenant, sequence=sequence, contact=c)

    def page_queries(rows):
        with CaptureQueriesContext(connection) as ctx:
            response = rep_client.get(reverse("contacts:index"))
        assert response.content.decode().count('class="row-check"') == rows
        return len(ctx.captured_queries)

    add_contact(0)
    one_row = page_queries(1)
    for i in range(1, 30):
        add_contact(i)
    assert page_queries(30) == one_row
    assert one_row <= 15


def test_bulk_enroll_reports_counts_and_ignores_another_tenants_ids(rep_client, tenant, other_tenant, sequence):
    ours = [ContactFactory(tenant=tenant) for _ in range(2)]
    dnc = ContactFactory(tenant=tenant, do_not_contact=True)
    theirs = ContactFactory(tenant=other_tenant)

    response = rep_client.post(reverse("contacts:bulk"), {
        "action": "enroll", "sequence": sequence.pk, "contact_ids": [c.pk for c in ours] + [dnc.pk, theirs.pk],
    }, HTTP_HX_REQUEST="true")

    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="enrolled">2<' in body and 'data-count="skipped">1<' in body and "do-not-contact 1" in body
    assert not Enrollment.objects.filter(contact=theirs).exists()


def test_select_all_matching_reapplies_the_posted_filter_on_the_server(rep_client, tenant, sequence):
    hot = [ContactFactory(tenant=tenant, score_band="hot") for _ in range(3)]
    ContactFactory(tenant=tenant, score_band="cold")

    rep_client.post(reverse("contacts:bulk"), {"action": "enroll_confirmed", "confirm_sequence": sequence.pk,
                                               "select_all": "1", "score": "hot"})

    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {c.pk for c in hot}


def test_enrolling_all_matching_asks_with_the_number_first_and_enrolls_nobody_until_confirmed(
        rep_client, tenant, other_tenant, sequence):
    hot = [ContactFactory(tenant=tenant, score_band="hot") for _ in range(3)]
    ContactFactory(tenant=tenant, score_band="cold")
    theirs = SequenceFactory(tenant=other_tenant, status="active")
    StepFactory(sequence=theirs)

    asked = rep_client.post(reverse("contacts:bulk"), {"action": "enroll", "sequence": sequence.pk,
                                                       "select_all": "1", "score": "hot", "active_elsewhere": "keep"})

    page = asked.content.decode()
    assert asked.status_code == 200 and not Enrollment.objects.exists()
    assert f"Enroll all 3 contacts matching this filter in “{sequence.name}”?" in page
    assert 'name="confirm_active_elsewhere" value="keep"' in page
    outsider = rep_client.post(reverse("contacts:bulk"), {"action": "enroll_confirmed", "confirm_sequence": theirs.pk,
                                                          "select_all": "1", "score": "hot"})
    assert outsider.status_code == 404 and not Enrollment.objects.exists()
    rep_client.post(reverse("contacts:bulk"), {"action": "enroll_confirmed", "confirm_sequence": sequence.pk,
                                               "confirm_active_elsewhere": "keep", "select_all": "1", "score": "hot"})
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {c.pk for c in hot}


def test_bulk_enroll_into_another_tenants_sequence_is_404(rep_client, tenant, other_tenant):
    theirs = SequenceFactory(tenant=other_tenant, status="active")
    StepFactory(sequence=theirs)
    response = rep_client.post(reverse("contacts:bulk"), {"action": "enroll", "sequence": theirs.pk,
                                                          "contact_ids": [ContactFactory(tenant=tenant).pk]})
    assert response.status_code == 404
    assert not Enrollment.objects.exists()


def test_bulk_actions_without_a_selection_answer_422(rep_client, tenant, sequence):
    response = rep_client.post(reverse("contacts:bulk"), {"action": "enroll", "sequence": sequence.pk},
                               HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Select at least one contact" in response.content.decode()


def test_add_and_remove_from_list_and_mark_do_not_contact_in_bulk(rep_client, tenant, other_tenant, sequence):
    contacts = [ContactFactory(tenant=tenant) for _ in range(3)]
    theirs = ContactFactory(tenant=other_tenant)
    contact_list = ContactListFactory(tenant=tenant)
    ids = [c.pk for c in contacts] + [theirs.pk]
    enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=contacts[0])

    rep_client.post(reverse("contacts:bulk"), {"action": "add_to_list", "contact_list": contact_list.pk, "contact_ids": ids})
    assert ListMembership.objects.filter(contact_list=contact_list).count() == 3
    rep_client.post(reverse("contacts:bulk"), {"action": "remove_from_list", "contact_list": contact_list.pk,
                                               "contact_ids": ids[:1]})
    assert ListMembership.objects.filter(contact_list=contact_list).count() == 2
    rep_client.post(reverse("contacts:bulk"), {"action": "do_not_contact", "contact_ids": ids})

    assert Contact.objects.filter(tenant=tenant, do_not_contact=True).count() == 3
    theirs.refresh_from_db()
    enrollment.refresh_from_db()
    assert theirs.do_not_contact is False
    assert (enrollment.status, enrollment.exit_reason) == ("unenrolled", "do-not-contact")


def test_bulk_delete_asks_for_confirmation_first(rep_client, tenant, other_tenant):
    contacts = [ContactFactory(tenant=tenant) for _ in range(2)]
    theirs = ContactFactory(tenant=other_tenant)
    ids = [c.pk for c in contacts] + [theirs.pk]

    ask = rep_client.post(reverse("contacts:bulk"), {"action": "delete", "contact_ids": ids}, HTTP_HX_REQUEST="true")
    assert "Yes, delete 2" in ask.content.decode()
    assert Contact.objects.filter(tenant=tenant).count() == 2

    rep_client.post(reverse("contacts:bulk"), {"action": "delete_confirmed", "contact_ids": ids})
    assert Contact.objects.filter(tenant=tenant).count() == 0
    assert Contact.objects.filter(pk=theirs.pk).exists()


def test_the_profile_shows_enrollments_in_the_contacts_time_and_a_merged_timeline(rep_client, tenant, sequence):
    contact = ContactFactory(tenant=tenant, timezone="Asia/Tokyo")
    sequence.is_default = True
    sequence.save()
    from sequences.services.enrollments import enrollment_create

    enrollment = enrollment_create(tenant=tenant, sequence=sequence, contact=contact, actor=None)
    contact.events.create(tenant=tenant, kind="replied")

    body = rep_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()

    zone = __import__("zoneinfo").ZoneInfo
    local = enrollment.next_run_at.astimezone(zone("Asia/Tokyo"))
    viewer = enrollment.next_run_at.astimezone(zone("America/New_York"))  # the workspace's zone: the rep chose none
    assert f"{day_text(viewer)}, {viewer:%H:%M} {viewer.tzname()}" in body
    assert f"{local:%H:%M} their time (Tokyo, JST)" in body
    assert "Step scheduled" in body and "Replied" in body and "Enrolled" in body
    assert f'value="{sequence.pk}" selected' in body
    assert f'href="{reverse("sequences:enrollment-detail", args=[enrollment.pk])}"' in body


def test_inline_edit_saves_and_answers_422_on_invalid_input(rep_client, tenant):
    contact = ContactFactory(tenant=tenant, first_name="Old")
    url = reverse("contacts:edit", args=[contact.pk])
    form = {"first_name": "New", "last_name": "Name", "email": contact.email, "phone": "+1 (415) 555-0100",
            "company": "Acme", "title": "", "timezone": "Europe/Berlin", "owner": "", "lead_status": "qualified",
            "score_band": "warm"}

    bad = rep_client.post(url, form | {"timezone": "Nowhere/City"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and "Unknown timezone" in bad.content.decode()
    good = rep_client.post(url, form, HTTP_HX_REQUEST="true")
    assert good.status_code == 200 and 'id="contact-details"' in good.content.decode()
    contact.refresh_from_db()
    assert (contact.first_name, contact.phone, contact.lead_status) == ("New", "+14155550100", "qualified")
    assert contact.events.filter(kind="status_changed").exists()


def test_enrolling_from_the_profile_shows_refusals_with_422(rep_client, tenant, sequence):
    contact = ContactFactory(tenant=tenant, unsubscribed_at=timezone.now())
    response = rep_client.post(reverse("contacts:enroll", args=[contact.pk]), {"sequence": sequence.pk},
                               HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "unsubscribed" in response.content.decode()
    ok = ContactFactory(tenant=tenant)
    response = rep_client.post(reverse("contacts:enroll", args=[ok.pk]), {"sequence": sequence.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and Enrollment.objects.filter(contact=ok).exists()


EDIT_FORM = {"first_name": "Ben", "last_name": "Brown", "phone": "", "company": "Globex", "title": "",
             "timezone": "", "owner": "", "lead_status": "new", "score_band": "cold"}


def test_custom_fields_are_shown_by_their_labels_not_their_raw_keys(rep_client, tenant):
    contact = ContactFactory(tenant=tenant, custom_fields={"last_event": "Attended the June webinar",
                                                           "employees": "51-200"})

    page = rep_client.get(reverse("contacts:detail", args=[contact.pk])).content.decode()

    assert "<dt>Last event</dt><dd>Attended the June webinar</dd>" in page
    assert "<dt>Employees</dt><dd>51-200</dd>" in page
    assert "<dt>last_event</dt>" not in page


def test_custom_fields_are_edited_on_the_contact_page(rep_client, tenant):
    contact = ContactFactory(tenant=tenant, custom_fields={"last_event": "Attended the June webinar",
                                                           "employees": "51-200"})
    url = reverse("contacts:edit", args=[contact.pk])

    form = rep_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert ">Last event:</label>" in form and 'value="Attended the June webinar"' in form

    saved = rep_client.post(url, EDIT_FORM | {"email": contact.email, "custom__last_event": "Booked a demo",
                                              "custom__employees": "201-1000"}, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200 and "<dt>Last event</dt><dd>Booked a demo</dd>" in saved.content.decode()
    contact.refresh_from_db()
    assert contact.custom_fields == {"last_event": "Booked a demo", "employees": "201-1000"}


def test_a_too_long_custom_field_is_refused_inline_with_422(rep_client, tenant, other_tenant):
    contact = ContactFactory(tenant=tenant, custom_fields={"last_event": "Attended"})
    url = reverse("contacts:edit", args=[contact.pk])

    bad = rep_client.post(url, EDIT_FORM | {"email": contact.email, "custom__last_event": "x" * 2000},
                          HTTP_HX_REQUEST="true")

    assert bad.status_code == 422 and "at most 1000 characters" in bad.content.decode()
    contact.refresh_from_db()
    assert contact.custom_fields == {"last_event": "Attended"}
    theirs = ContactFactory(tenant=other_tenant, custom_fields={"last_event": "Theirs"})
    response = rep_client.post(reverse("contacts:edit", args=[theirs.pk]),
                               EDIT_FORM | {"email": theirs.email, "custom__last_event": "Mine now"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.custom_fields == {"last_event": "Theirs"}


def test_enrolling_from_the_profile_asks_the_timeline_to_refresh_and_it_shows_the_enrollment(
        rep_client, tenant, sequence, other_tenant):
    contact = ContactFactory(tenant=tenant)
    response = rep_client.post(reverse("contacts:enroll", args=[contact.pk]), {"sequence": sequence.pk},
                               HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "enrollment-changed"

    timeline = rep_client.get(reverse("contacts:detail", args=[contact.pk]), HTTP_HX_REQUEST="true",
                              HTTP_HX_TARGET="contact-timeline")
    page = timeline.content.decode()
    assert "<html" not in page and page.strip().startswith('<section class="card" id="contact-timeline"')
    assert "Enrolled" in page and sequence.name in page
    theirs = ContactFactory(tenant=other_tenant)
    assert rep_client.get(reverse("contacts:detail", args=[theirs.pk]), HTTP_HX_REQUEST="true",
                          HTTP_HX_TARGET="contact-timeline").status_code == 404


def test_lists_can_be_created_renamed_filled_enrolled_and_deleted(rep_client, tenant, sequence):
    rep_client.post(reverse("contacts:lists"), {"name": "Webinar"})
    contact_list = ContactList.objects.get(tenant=tenant)
    assert rep_client.post(reverse("contacts:lists"), {"name": " "}).status_code == 422
    rep_client.post(reverse("contacts:list-rename", args=[contact_list.pk]), {"name": "Webinar May"})
    a, b = ContactFactory(tenant=tenant, email="a@x.com"), ContactFactory(tenant=tenant, email="b@x.com")
    rep_client.post(reverse("contacts:list-members-add", args=[contact_list.pk]), {"emails": "A@x.com, b@x.com, c@x.com"})
    assert set(contact_list.contacts.all()) == {a, b}

    response = rep_client.post(reverse("contacts:list-enroll", args=[contact_list.pk]), {"sequence": sequence.pk},
                               HTTP_HX_REQUEST="true")
    assert "Enrolled 2, already enrolled 0, skipped 0." in response.content.decode()
    assert Enrollment.objects.filter(sequence=sequence, enrolled_via="list").count() == 2

    rep_client.post(reverse("contacts:list-members-remove", args=[contact_list.pk]), {"contact_ids": [a.pk]})
    assert list(contact_list.contacts.all()) == [b]
    contact_list.refresh_from_db()
    assert contact_list.name == "Webinar May"
    rep_client.post(reverse("contacts:list-delete", args=[contact_list.pk]))
    assert not ContactList.objects.exists() and Contact.objects.count() == 2


# --- the outsider ------------------------------------------------------------------------

def _tenant_objects(tenant):
    contact = ContactFactory(tenant=tenant)
    return {
        "contact_id": contact.pk,
        "list_id": ContactListFactory(tenant=tenant).pk,
        "import_id": ImportJobFactory(tenant=tenant).pk,
    }


ID_VIEWS = [
    ("contacts:detail", "contact_id"), ("contacts:edit", "contact_id"), ("contacts:enroll", "contact_id"),
    ("contacts:import-detail", "import_id"), ("contacts:import-rejected-csv", "import_id"),
    ("contacts:list-detail", "list_id"), ("contacts:list-rename", "list_id"), ("contacts:list-delete", "list_id"),
    ("contacts:list-members-add", "list_id"), ("contacts:list-members-remove", "list_id"),
    ("contacts:list-enroll", "list_id"),
]


@pytest.mark.parametrize("name,kwarg", ID_VIEWS)
def test_the_outsider_gets_404_for_every_id_taking_contacts_view(outsider_client, tenant, name, kwarg):
    url = reverse(name, kwargs={kwarg: _tenant_objects(tenant)[kwarg]})
    assert outsider_client.get(url).status_code in (404, 405)
    assert outsider_client.post(url, {"name": "x", "emails": "a@b.c", "sequence": "1"}).status_code == 404


def test_the_outsiders_contacts_page_shows_none_of_ours(outsider_client, tenant):
    ContactFactory(tenant=tenant, last_name="Secretson")
    assert "Secretson" not in outsider_client.get(reverse("contacts:index"), {"q": "secret"}).content.decode()


def test_the_outsider_cannot_touch_our_contacts_through_bulk_actions(outsider_client, tenant, other_tenant):
    ours = [ContactFactory(tenant=tenant) for _ in range(2)]
    outsider_client.post(reverse("contacts:bulk"), {"action": "do_not_contact", "contact_ids": [c.pk for c in ours]})
    outsider_client.post(reverse("contacts:bulk"), {"action": "delete_confirmed", "contact_ids": [c.pk for c in ours]})
    assert Contact.objects.filter(tenant=tenant, do_not_contact=False).count() == 2
    assert not Activity.objects.exists()


def test_a_reps_contact_list_starts_with_their_own_contacts(rep_client, rep, manager, tenant):
    from django.urls import reverse

    from tests.factories import ContactFactory

    mine = ContactFactory(tenant=tenant, owner=rep, last_name="Mine")
    theirs = ContactFactory(tenant=tenant, owner=manager, last_name="Theirs")

    default = rep_client.get(reverse("contacts:index")).content.decode()
    everyone = rep_client.get(reverse("contacts:index"), {"owner": ""}).content.decode()

    assert mine.email in default and theirs.email not in default
    assert mine.email in everyone and theirs.email in everyone


def test_a_managers_contact_list_starts_with_everyone(manager_client, rep, tenant):
    from django.urls import reverse

    from tests.factories import ContactFactory

    reps_contact = ContactFactory(tenant=tenant, owner=rep)
    assert reps_contact.email in manager_client.get(reverse("contacts:index")).content.decode()


def test_a_rep_adds_a_contact_by_hand_and_owns_it(rep_client, rep, tenant):
    from django.urls import reverse

    from contacts.models import Contact

    response = rep_client.post(reverse("contacts:new"), {
        "first_name": "Nia", "last_name": "Okafor", "email": "nia@okafor.example", "phone": "+1 (415) 555-0100",
        "timezone": "Africa/Lagos", "lead_status": "new", "score_band": "warm", "owner": "",
    })

    contact = Contact.objects.get(tenant=tenant, email="nia@okafor.example")
    assert response.status_code == 302 and response["Location"] == reverse("contacts:detail", args=[contact.pk])
    assert (contact.owner, contact.phone, contact.source) == (rep, "+14155550100", "manual")


def test_a_new_contact_with_a_taken_email_or_bad_timezone_is_refused_inline(rep_client, tenant):
    from django.urls import reverse

    from contacts.models import Contact
    from tests.factories import ContactFactory

    ContactFactory(tenant=tenant, email="taken@example.com")
    response = rep_client.post(reverse("contacts:new"), {
        "first_name": "Dup", "email": "TAKEN@example.com", "timezone": "Mars/Olympus",
        "lead_status": "new", "score_band": "cold",
    })

    body = response.content.decode()
    assert response.status_code == 422
    assert "already has this email" in body and "Unknown timezone" in body
    assert 'value="Dup"' in body  # what was typed is kept
    assert Contact.objects.filter(tenant=tenant).count() == 1


def test_the_new_contact_owner_must_be_a_member_of_this_workspace(rep_client, tenant, outsider):
    from django.urls import reverse

    from contacts.models import Contact

    response = rep_client.post(reverse("contacts:new"), {
        "email": "x@example.com", "lead_status": "new", "score_band": "cold", "owner": outsider.pk,
    })

    assert response.status_code == 422
    assert not Contact.objects.filter(email="x@example.com").exists()


def test_the_owner_choice_names_people_not_logins(rep_client, rep):
    from django.urls import reverse

    rep.first_name, rep.last_name = "Rita", "Reyes"
    rep.save()
    body = rep_client.get(reverse("contacts:new")).content.decode()
    assert f'<option value="{rep.pk}" selected>Rita Reyes</option>' in body
