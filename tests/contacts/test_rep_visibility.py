""""Reps see only their own contacts" (a workspace setting, off by default): a rep who
does not own a contact gets 404 for it everywhere, and it is left out of every list,
search, bulk action, enrollment list, the approval queue, tasks, imports and the API,
just as another workspace's contact is."""
import json

import pytest
from django.urls import reverse

from approvals.models import ApprovalRequest
from contacts.models import Contact, ContactList, ImportRejectedRow, ListMembership
from contacts.services.imports import import_run
from messaging.models import Task
from scendcore.api import api_token_create
from scendcore.models import AuditEntry, Role
from sequences.models import Enrollment
from sequences.services.auto_enroll import auto_enroll_sequence
from tests.approvals.builders import pending_approval
from tests.factories import (
    ContactFactory, ContactListFactory, EnrollmentFactory, ImportJobFactory, MembershipFactory, SequenceFactory,
    StepFactory, TaskFactory, UserFactory,
)
from tests.test_tenancy_urls import BUILDERS, ID_KWARG, ID_PATTERNS, OTHER_VALUES, World, _ids, build_url

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
# URL kwargs whose object belongs to one contact (and so to the contact's owner).
CONTACT_BOUND = {"contact_id", "enrollment_id", "approval_id", "task_id", "message_id", "import_id"}
CONTACT_PATTERNS = [p for p in ID_PATTERNS if CONTACT_BOUND & {name for name, _ in p["params"]}]


@pytest.fixture
def own_only(tenant):
    tenant.reps_see_only_own_contacts = True
    tenant.save(update_fields=["reps_see_only_own_contacts"])
    return tenant


@pytest.fixture
def colleague(tenant):
    """Another rep of the same workspace: owns the contacts `rep` must not see."""
    user = UserFactory(username="carl_colleague")
    MembershipFactory(user=user, tenant=tenant, role=Role.REP)
    return user


@pytest.fixture
def mine(tenant, rep):
    return ContactFactory(tenant=tenant, owner=rep, email="mine@acme.example", last_name="Mine")


@pytest.fixture
def theirs(tenant, colleague):
    return ContactFactory(tenant=tenant, owner=colleague, email="theirs@acme.example", last_name="Theirs")


@pytest.fixture
def outsiders(other_tenant):
    return ContactFactory(tenant=other_tenant, email="outsider@else.example")


@pytest.fixture
def sequence(tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    StepFactory(sequence=sequence)
    return sequence


def test_the_walker_covers_the_contact_bound_urls():
    names = set(_ids(CONTACT_PATTERNS))
    for known in ("contacts:detail", "contacts:edit", "contacts:enroll", "sequences:enrollment-detail",
                  "sequences:enrollment-pause", "approvals:approve", "messaging:task-complete"):
        assert known in names, f"the walker missed {known}"


@pytest.mark.parametrize("pattern", CONTACT_PATTERNS, ids=_ids(CONTACT_PATTERNS))
def test_a_rep_gets_404_for_every_url_of_a_colleagues_contact(pattern, own_only, colleague, rep, client):
    world = World(own_only, colleague)
    values = {kwarg: BUILDERS[kwarg](world) if ID_KWARG.match(kwarg) else OTHER_VALUES.get(conv, "x")
              for kwarg, conv in pattern["params"]}
    url = build_url(pattern["levels"], values)

    # A form a real page would post, so that a view reaches its object lookups.
    form = {"sequence": world.sequence.pk, "priority": "2", "outcome_note": "done", "reason": "no"}

    client.force_login(colleague)
    owner_answer = client.get(url).status_code
    assert owner_answer != 404, f"{url} is 404 for the contact's own rep"

    client.force_login(rep)
    answers = {
        "GET": client.get(url).status_code,
        "POST": client.post(url, form).status_code,
        "HTMX GET": client.get(url, **HX).status_code,
        "HTMX POST": client.post(url, form, **HX).status_code,
    }
    # A view that refuses every rep (managers only) refuses this one the same way.
    allowed = {404, 405} | ({403} if owner_answer == 403 else set())
    wrong = {method: status for method, status in answers.items() if status not in allowed}
    assert not wrong, f"{url} answered a rep who does not own the contact with {wrong}"


def test_by_default_reps_see_every_contact_of_the_workspace(rep_client, theirs):
    assert rep_client.get(reverse("contacts:detail", args=[theirs.pk])).status_code == 200


def test_managers_see_every_contact_whatever_the_setting(manager_client, own_only, theirs):
    assert manager_client.get(reverse("contacts:detail", args=[theirs.pk])).status_code == 200


def test_the_contacts_page_and_its_search_list_only_the_reps_own(rep_client, own_only, mine, theirs, outsiders):
    everyone = rep_client.get(reverse("contacts:index"), {"owner": ""})
    assert [c.pk for c in everyone.context["page"].object_list] == [mine.pk]
    search = rep_client.get(reverse("contacts:index"), {"owner": "", "q": "theirs"})
    assert list(search.context["page"].object_list) == []
    table = rep_client.get(reverse("contacts:index"), {"owner": "", "q": "theirs"}, **HX).content.decode()
    assert "theirs@acme.example" not in table and "outsider@else.example" not in table


@pytest.mark.parametrize("select_all", [False, True])
def test_bulk_delete_leaves_a_colleagues_contacts_alone(rep_client, own_only, mine, theirs, outsiders, select_all):
    data = {"action": "delete_confirmed", "owner": ""}
    if select_all:
        data["select_all"] = "1"
    else:
        data["contact_ids"] = [mine.pk, theirs.pk, outsiders.pk]

    rep_client.post(reverse("contacts:bulk"), data)

    assert set(Contact.objects.values_list("pk", flat=True)) == {theirs.pk, outsiders.pk}


@pytest.mark.parametrize("action", ["delete_confirmed", "do_not_contact", "add_to_list", "enroll"])
def test_a_bulk_action_on_only_a_colleagues_contacts_finds_nothing_to_do(
    rep_client, own_only, tenant, theirs, outsiders, sequence, action
):
    contact_list = ContactListFactory(tenant=tenant)
    response = rep_client.post(reverse("contacts:bulk"), {
        "action": action, "contact_ids": [theirs.pk, outsiders.pk], "contact_list": contact_list.pk,
        "sequence": sequence.pk,
    })

    assert response.status_code == 422
    theirs.refresh_from_db()
    assert theirs.do_not_contact is False
    assert not ListMembership.objects.exists() and not Enrollment.objects.exists()


def test_a_list_shows_counts_and_enrolls_only_the_reps_own_members(
    rep_client, own_only, tenant, mine, theirs, sequence
):
    contact_list = ContactListFactory(tenant=tenant, name="Webinar")
    contact_list.contacts.add(mine, theirs)

    index = rep_client.get(reverse("contacts:lists"))
    assert [(row.name, row.member_count) for row in index.context["lists"]] == [("Webinar", 1)]
    detail = rep_client.get(reverse("contacts:list-detail", args=[contact_list.pk]))
    assert [c.pk for c in detail.context["page"].object_list] == [mine.pk]
    assert "theirs@acme.example" not in detail.content.decode()

    rep_client.post(reverse("contacts:list-enroll", args=[contact_list.pk]), {"sequence": sequence.pk})
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [mine.pk]


def test_a_list_cannot_gain_or_lose_a_colleagues_contact(rep_client, own_only, tenant, theirs, outsiders):
    contact_list = ContactListFactory(tenant=tenant)

    added = rep_client.post(reverse("contacts:list-members-add", args=[contact_list.pk]),
                            {"emails": "theirs@acme.example, outsider@else.example"}, **HX)
    assert "Added 0 contacts" in added.content.decode() and not contact_list.contacts.exists()

    contact_list.contacts.add(theirs)
    rep_client.post(reverse("contacts:list-members-remove", args=[contact_list.pk]), {"contact_ids": [theirs.pk]})
    assert list(contact_list.contacts.all()) == [theirs]


def test_a_sequences_enrollment_list_and_its_bulk_actions_leave_out_a_colleagues_contacts(
    rep_client, own_only, tenant, mine, theirs, sequence
):
    my_row = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=mine)
    their_row = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=theirs)

    table = rep_client.get(reverse("sequences:enrollments", args=[sequence.pk]))
    assert [e.pk for e in table.context["page"].object_list] == [my_row.pk]
    assert "theirs@acme.example" not in table.content.decode()

    rep_client.post(reverse("sequences:enrollments-bulk", args=[sequence.pk]),
                    {"action": "pause", "enrollment_ids": [my_row.pk, their_row.pk]})
    assert dict(Enrollment.objects.values_list("pk", "status")) == {my_row.pk: "paused", their_row.pk: "active"}


def test_the_api_does_not_enroll_a_colleagues_contacts(client, own_only, rep, mine, theirs, outsiders, sequence):
    key = api_token_create(tenant=own_only, user=rep, name="CRM")
    contact_list = ContactListFactory(tenant=own_only)
    contact_list.contacts.add(mine, theirs)
    url = reverse("api:sequence-enroll", args=[sequence.pk])

    def enroll(body):
        return client.post(url, data=json.dumps(body), content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")

    by_id = enroll({"contact_ids": [theirs.pk]})
    assert by_id.status_code == 422 and str(theirs.pk) in by_id.json()["errors"]["contact_ids"][0]
    by_email = enroll({"emails": ["theirs@acme.example"]})
    assert by_email.status_code == 422 and "theirs@acme.example" in by_email.json()["errors"]["emails"][0]
    by_outsider = enroll({"contact_ids": [outsiders.pk]})
    assert by_outsider.status_code == 422
    assert enroll({"list_id": contact_list.pk}).json()["enrolled"] == 1
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [mine.pk]


def test_the_approval_queue_and_the_task_list_leave_out_a_colleagues_contacts(
    rep_client, own_only, tenant, mine, theirs
):
    pending_approval(tenant=tenant, contact=theirs)
    pending_approval(tenant=tenant, contact=mine)
    tenant.reps_can_approve = True
    tenant.save(update_fields=["reps_can_approve"])
    TaskFactory(tenant=tenant, contact=theirs, owner=None, title="Call Theirs")
    TaskFactory(tenant=tenant, contact=mine, owner=None, title="Call Mine")

    queue = rep_client.get(reverse("approvals:queue"))
    assert [card["contact"].pk for card in queue.context["cards"]] == [mine.pk]
    tasks = rep_client.get(reverse("messaging:task-list"))
    assert [task.title for task in tasks.context["tasks"]] == ["Call Mine"]
    assert ApprovalRequest.objects.count() == 2 and Task.objects.count() == 2


def test_a_reps_import_does_not_update_a_colleagues_contact_and_says_on_which_line(own_only, rep, theirs):
    job = ImportJobFactory(
        tenant=own_only, created_by=rep, status="queued", duplicate_policy="update",
        source_text="Email,First Name\nnew@acme.example,Nia\ntheirs@acme.example,Hijacked\n",
        headers=["Email", "First Name"], mapping={"0": "email", "1": "first_name"}, total_rows=2,
    )

    import_run(tenant_id=own_only.pk, import_id=job.pk)

    theirs.refresh_from_db()
    assert theirs.first_name != "Hijacked"
    rejected = ImportRejectedRow.objects.get(job=job)
    assert rejected.line == 3 and "another owner" in rejected.reason
    # What the rep imported is theirs, so they can see it afterwards.
    assert Contact.objects.get(email="new@acme.example").owner == rep


def test_a_reps_auto_enrolling_sequence_picks_only_the_reps_own_contacts(own_only, rep, mine, theirs):
    sequence = SequenceFactory(tenant=own_only, owner=rep, status="active", auto_enroll_enabled=True,
                               entry_rules={"lead_status": ["new"]})
    StepFactory(sequence=sequence)

    auto_enroll_sequence(tenant=own_only, sequence=sequence)

    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [mine.pk]


def test_an_admin_turns_the_setting_on_on_the_settings_page_and_the_change_is_audited(
    admin_client_, admin, tenant
):
    from tests.scendcore.test_settings_page import VALID

    response = admin_client_.post(reverse("tenant-settings"), {**VALID, "reps_see_only_own_contacts": "on"})

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.reps_see_only_own_contacts is True
    entry = AuditEntry.objects.get(tenant=tenant, object_type="tenant", actor=admin)
    assert entry.changes["reps_see_only_own_contacts"] == [False, True]


def test_an_outsider_sees_none_of_our_lists_members(client, outsider, own_only, mine):
    contact_list = ContactListFactory(tenant=own_only)
    contact_list.contacts.add(mine)
    client.force_login(outsider)
    assert client.get(reverse("contacts:list-detail", args=[contact_list.pk])).status_code == 404
    assert not ContactList.objects.filter(tenant=own_only).exclude(pk=contact_list.pk).exists()
