"""The Django admin for staff who are not superusers: they work only inside the
workspaces where they are admins. Every test is generated from the admin registry, so a
model registered later is covered without editing this file (a model of the project
needs a builder below first; a model of any other app must be for superusers only).

The staff member holds every Django permission: what they cannot see or do is the
scoping's doing, never a missing permission. Every refusal has a control showing that a
superuser can do the same thing with the same request."""
import hashlib
import itertools

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.widgets import ManyToManyRawIdWidget
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from contacts.suppression import address_hash
from scendcore.models import ApiToken, AuditEntry, Membership, Role
from tests.factories import ContactFactory, MembershipFactory, UserFactory
from tests.test_tenancy_urls import World

pytestmark = pytest.mark.django_db
User = get_user_model()
PROJECT_APPS = {"scendcore", "contacts", "sequences", "agents", "approvals", "messaging"}
_keys = itertools.count(1)


def _label(model):
    return model._meta.label


REGISTERED = sorted(admin.site._registry, key=_label)
# The models of a workspace: the project's own, and users (members of workspaces).
WORKSPACE_MODELS = [m for m in REGISTERED if m._meta.app_label in PROJECT_APPS or m is User]
PLATFORM_MODELS = [m for m in REGISTERED if m not in WORKSPACE_MODELS]


def _get(model, **lookup):
    return model.objects.get(**lookup)


BUILDERS = {
    "scendcore.Tenant": lambda w: w.tenant,
    "scendcore.Membership": lambda w: _get(Membership, tenant=w.tenant, user=w.member),
    "scendcore.AuditEntry": lambda w: AuditEntry.objects.create(
        tenant=w.tenant, actor=w.member, object_type="sequence", object_id="1", action=f"probe-{w.tenant.slug}"),
    "scendcore.ApiToken": lambda w: ApiToken.objects.create(
        tenant=w.tenant, user=w.member, name=f"token-{w.tenant.slug}",
        key_hash=hashlib.sha256(f"key-{next(_keys)}".encode()).hexdigest()),
    "scendcore.Notification": lambda w: apps.get_model("scendcore", "Notification").objects.create(
        tenant=w.tenant, user=w.member, text=f"probe-{w.tenant.slug}"),
    "auth.User": lambda w: w.member,
    "contacts.Tag": lambda w: apps.get_model("contacts", "Tag").objects.create(tenant=w.tenant, name=f"tag-{w.tenant.slug}"),
    "contacts.Contact": lambda w: w.contact,
    "contacts.ContactList": lambda w: w.contact_list,
    "contacts.ListMembership": lambda w: _get(apps.get_model("contacts", "ListMembership"),
                                              contact_list=w.contact_list, contact=w.contact),
    "contacts.ContactEvent": lambda w: apps.get_model("contacts", "ContactEvent").objects.create(
        tenant=w.tenant, contact=w.contact, kind="note"),
    "contacts.ImportJob": lambda w: w.import_job,
    "contacts.ImportRejectedRow": lambda w: apps.get_model("contacts", "ImportRejectedRow").objects.create(
        job=w.import_job, line=2, email=f"rejected@{w.tenant.slug}.example", reason="probe", values=["x"]),
    "sequences.Sequence": lambda w: w.sequence,
    "sequences.Step": lambda w: w.step,
    "sequences.SequenceVersion": lambda w: apps.get_model("sequences", "SequenceVersion").objects.create(
        tenant=w.tenant, sequence=w.sequence, number=7, state="retired", note=f"probe-{w.tenant.slug}"),
    "sequences.GoalReached": lambda w: apps.get_model("sequences", "GoalReached").objects.create(
        tenant=w.tenant, sequence=w.sequence, version=w.sequence.current_version, enrollment=w.enrollment,
        contact=w.contact, goal_key="booked", goal_name=f"probe-{w.tenant.slug}"),
    "sequences.Enrollment": lambda w: w.enrollment,
    "sequences.EnrollmentTally": lambda w: apps.get_model("sequences", "EnrollmentTally").objects.create(
        tenant=w.tenant, user=w.member, status="active", delta=1),
    "sequences.SequenceTally": lambda w: apps.get_model("sequences", "SequenceTally").objects.create(
        tenant=w.tenant, sequence=w.sequence, step=w.step, status="active", delta=1),
    "sequences.Activity": lambda w: apps.get_model("sequences", "Activity").objects.create(
        tenant=w.tenant, enrollment=w.enrollment, contact=w.contact, sequence=w.sequence, step=w.step,
        kind="enrolled", detail=f"probe-{w.tenant.slug}"),
    "agents.Agent": lambda w: w.agent,
    "agents.AgentJob": lambda w: w.agent_job,
    "approvals.ApprovalRequest": lambda w: w.approval,
    "approvals.ApprovalDecision": lambda w: apps.get_model("approvals", "ApprovalDecision").objects.create(
        tenant=w.tenant, request=w.approval, kind="rejected", actor=w.member, reason=f"probe-{w.tenant.slug}"),
    "messaging.Mailbox": lambda w: w.mailbox,
    "messaging.MailboxPool": lambda w: w.pool,
    "messaging.PoolMember": lambda w: _get(apps.get_model("messaging", "PoolMember"), pool=w.pool),
    "messaging.SendRecord": lambda w: apps.get_model("messaging", "SendRecord").objects.create(
        tenant=w.tenant, mailbox=w.mailbox, recipient_domain=f"{w.tenant.slug}.example"),
    "messaging.OutboundMessage": lambda w: w.message,
    "messaging.InboundMessage": lambda w: apps.get_model("messaging", "InboundMessage").objects.create(
        tenant=w.tenant, mailbox=w.mailbox, contact=w.contact, classification="reply",
        from_address=w.contact.email, subject=f"Re: probe {w.tenant.slug}"),
    "messaging.Task": lambda w: w.task,
    "contacts.Suppression": lambda w: apps.get_model("contacts", "Suppression").objects.create(
        tenant=w.tenant, address=f"gone@{w.tenant.slug}.example",
        address_hash=address_hash(f"gone@{w.tenant.slug}.example"), reason="manual", source=f"probe-{w.tenant.slug}"),
    "messaging.DeliveryFeedback": lambda w: apps.get_model("messaging", "DeliveryFeedback").objects.create(
        tenant=w.tenant, mailbox=w.mailbox, message=w.message, kind="complaint", source=f"probe-{w.tenant.slug}"),
    "messaging.InboundQuarantine": lambda w: apps.get_model("messaging", "InboundQuarantine").objects.create(
        tenant=w.tenant, mailbox=w.mailbox, source="webhook", from_address=f"held@{w.tenant.slug}.example",
        subject=f"probe {w.tenant.slug}", raw=b"Subject: probe\r\n\r\nbody", raw_sha256=f"{next(_keys):064d}",
        error="probe"),
}


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def staff(tenant):
    """An admin of `tenant` with staff status and every Django permission."""
    user = UserFactory(username="sam_staff", is_staff=True)
    MembershipFactory(user=user, tenant=tenant, role=Role.ADMIN)
    user.user_permissions.set(Permission.objects.all())
    return user


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def ours(tenant):
    member = UserFactory(username="mia_member")
    MembershipFactory(user=member, tenant=tenant, role=Role.MANAGER)
    return World(tenant, member)


@pytest.fixture
def theirs(other_tenant, outsider):
    return World(other_tenant, outsider)


def build(model, world):
    assert _label(model) in BUILDERS, f"add a builder for {_label(model)} to tests/scendcore/test_admin_scoping.py"
    return BUILDERS[_label(model)](world)


def _search_term(model, obj):
    """A value of one of the admin's search fields on `obj`, to search for it by."""
    for path in admin.site._registry[model].search_fields:
        value = obj
        for part in path.lstrip("^=@").split("__"):
            value = getattr(value, part, None)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _listed(client, model, params=None):
    response = client.get(_url(model, "changelist"), params or {})
    assert response.status_code == 200, response.status_code
    return response, set(response.context["cl"].queryset.values_list("pk", flat=True))


# ---------------------------------------------------------------- the registry

def test_every_project_model_has_a_builder_and_every_other_model_is_for_superusers_only():
    from scendcore.admin_base import ScopedInlineMixin, ScopedModelAdmin, TenantAdmin, tenant_path
    from scendcore.admin_site import PlatformOnly

    for model in WORKSPACE_MODELS:
        model_admin = admin.site._registry[model]
        assert _label(model) in BUILDERS, f"{_label(model)} needs a builder here"
        assert isinstance(model_admin, ScopedModelAdmin), f"{_label(model)}'s admin is not tenant-scoped"
        if isinstance(model_admin, TenantAdmin):
            assert model_admin.tenant_path == tenant_path(model), _label(model)
        for inline in model_admin.inlines:
            assert issubclass(inline, ScopedInlineMixin), f"{inline.__name__} of {_label(model)} is not scoped"
    for model in PLATFORM_MODELS:
        assert isinstance(admin.site._registry[model], PlatformOnly), _label(model)


# ---------------------------------------------------------------- what staff see

@pytest.mark.parametrize("model", WORKSPACE_MODELS, ids=_label)
def test_the_changelist_and_its_search_show_none_of_another_workspaces_rows(
    model, client, staff, root, ours, theirs, other_tenant
):
    mine, foreign = build(model, ours), build(model, theirs)
    term = _search_term(model, foreign)

    client.force_login(root)
    assert foreign.pk in _listed(client, model)[1]
    if term:
        assert foreign.pk in _listed(client, model, {"q": term})[1], f"control: {term!r} finds it"

    client.force_login(staff)
    response, listed = _listed(client, model)
    assert mine.pk in listed and foreign.pk not in listed
    assert other_tenant.name not in response.content.decode()
    if term:
        assert foreign.pk not in _listed(client, model, {"q": term})[1]


@pytest.mark.parametrize("model", WORKSPACE_MODELS, ids=_label)
def test_another_workspaces_object_cannot_be_opened_changed_or_deleted(model, client, staff, root, ours, theirs):
    mine, foreign = build(model, ours), build(model, theirs)
    views = ["change", "history", "delete"] + (["password_change"] if model is User else [])

    client.force_login(root)
    for view in views:
        assert client.get(_url(model, view, foreign.pk)).status_code == 200, f"control: {view}"

    client.force_login(staff)
    assert client.get(_url(model, "change", mine.pk)).status_code == 200, "control: their own object opens"
    for view in views:
        response = client.get(_url(model, view, foreign.pk))
        assert response.status_code in (302, 403, 404), f"{view} answered {response.status_code}"
        if response.status_code == 302:
            assert response["Location"] == reverse("admin:index")
    client.post(_url(model, "delete", foreign.pk), {"post": "yes"})
    assert model.objects.filter(pk=foreign.pk).exists()


def _autocomplete_sources():
    """(target model, a foreign key or many-to-many field pointing at it) for every
    workspace model whose admin searches."""
    found = []
    for target in WORKSPACE_MODELS:
        if not admin.site._registry[target].search_fields:
            continue
        for source in REGISTERED:
            field = next((f for f in source._meta.get_fields()
                          if f.concrete and f.is_relation and f.related_model is target), None)
            if field is not None:
                found.append((target, source, field.name))
                break
    return found


AUTOCOMPLETE = _autocomplete_sources()


@pytest.mark.parametrize("target, source, field", AUTOCOMPLETE,
                         ids=[f"{_label(t)}<-{_label(s)}.{f}" for t, s, f in AUTOCOMPLETE])
def test_autocomplete_offers_nothing_of_another_workspace(target, source, field, client, staff, root, ours, theirs):
    foreign = build(target, theirs)
    params = {"app_label": source._meta.app_label, "model_name": source._meta.model_name, "field_name": field,
              "term": _search_term(target, foreign) or ""}

    def offered():
        response = client.get(reverse("admin:autocomplete"), params)
        return {row["id"] for row in response.json()["results"]} if response.status_code == 200 else set()

    client.force_login(root)
    assert str(foreign.pk) in offered(), "control"
    client.force_login(staff)
    assert str(foreign.pk) not in offered()


# ---------------------------------------------------------------- what staff may write

def _form_data(form):
    """POST data reproducing what `form` shows (an add form opened on an object)."""
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        widget = field.widget
        while hasattr(widget, "widget"):
            widget = widget.widget  # RelatedFieldWidgetWrapper
        if isinstance(widget, forms.MultiWidget):
            for index, (part_widget, part) in enumerate(zip(widget.widgets, widget.decompress(value))):
                data[f"{name}_{index}"] = part_widget.format_value(part) or ""
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
        elif isinstance(widget, ManyToManyRawIdWidget):
            data[name] = ",".join(str(v) for v in value or ())
        elif isinstance(value, (list, tuple)):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "" if value is None else str(value)
    return data


def _copy_post(model, obj, request):
    """The add form's POST data for a copy of `obj`, empty inline forms included."""
    model_admin = admin.site._registry[model]
    data = _form_data(model_admin.get_form(request, None)(instance=obj))
    for formset, _inline in model_admin.get_formsets_with_inlines(request):
        prefix = formset.get_default_prefix()
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                     f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})
    return data


COPYABLE = [m for m in WORKSPACE_MODELS if m not in (User, apps.get_model("scendcore", "Tenant"))]


@pytest.mark.parametrize("model", COPYABLE, ids=_label)
def test_staff_cannot_create_a_row_in_another_workspace(model, client, staff, root, theirs, rf, loopback_allowed):
    foreign = build(model, theirs)
    request = rf.get("/")
    request.user = root
    data = _copy_post(model, foreign, request)
    foreign.delete()  # frees the unique values the copy repeats
    before = model.objects.count()

    client.force_login(staff)
    response = client.post(_url(model, "add"), data)
    assert response.status_code in (200, 403), response.status_code
    assert model.objects.count() == before, "staff created a row in another workspace"

    client.force_login(root)
    control = client.post(_url(model, "add"), data)
    assert control.status_code == 302 and model.objects.count() == before + 1, (
        "control: the same POST must work for a superuser",
        control.context and control.context["adminform"].form.errors)


def test_a_workspace_cannot_be_added_or_deleted_by_its_admin(client, staff, tenant):
    Tenant = apps.get_model("scendcore", "Tenant")
    client.force_login(staff)
    assert client.get(_url(Tenant, "add")).status_code == 403
    client.post(_url(Tenant, "delete", tenant.pk), {"post": "yes"})
    assert Tenant.objects.filter(pk=tenant.pk).exists()


@pytest.mark.parametrize("model", PLATFORM_MODELS, ids=_label)
def test_models_of_no_workspace_are_for_superusers_only(model, client, staff, root):
    client.force_login(root)
    assert client.get(_url(model, "changelist")).status_code == 200, "control"
    client.force_login(staff)
    assert client.get(_url(model, "changelist")).status_code == 403
    assert client.get(_url(model, "add")).status_code == 403
    index = client.get(reverse("admin:index")).context["app_list"]
    assert _label(model) not in {f"{app['app_label']}.{m['object_name']}" for app in index for m in app["models"]}


# ---------------------------------------------------------------- users, roles, workspaces

def _user_change_post(user, **changes):
    """The user's change form as posted, date fields included (the full form has them)."""
    joined = timezone.localtime(user.date_joined)
    data = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "is_active": "on", "date_joined_0": f"{joined:%Y-%m-%d}",
            "date_joined_1": f"{joined:%H:%M:%S}", "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0", "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000"}
    data.update(changes)
    return data


def test_a_workspace_admin_cannot_make_themselves_superuser_or_grant_themselves_permissions(client, staff):
    granted = set(staff.user_permissions.values_list("pk", flat=True))
    client.force_login(staff)

    client.post(_url(User, "change", staff.pk), _user_change_post(
        staff, is_superuser="on", is_staff="on", user_permissions=[str(pk) for pk in sorted(granted)[:3]]))

    staff.refresh_from_db()
    assert (staff.is_superuser, staff.is_staff) == (False, True)
    assert set(staff.user_permissions.values_list("pk", flat=True)) == granted


def test_a_workspace_admin_cannot_edit_a_user_who_is_also_a_member_elsewhere(client, staff, tenant, other_tenant):
    shared = UserFactory(username="shared_user")
    MembershipFactory(user=shared, tenant=tenant, role=Role.REP)
    MembershipFactory(user=shared, tenant=other_tenant, role=Role.ADMIN)
    client.force_login(staff)

    assert client.get(_url(User, "change", shared.pk)).status_code == 302
    client.post(_url(User, "password_change", shared.pk), {"password1": "Taken-over-42!", "password2": "Taken-over-42!"})
    client.post(_url(User, "change", shared.pk), _user_change_post(shared, email="attacker@evil.example"))

    shared.refresh_from_db()
    assert not shared.check_password("Taken-over-42!") and shared.email != "attacker@evil.example"


def test_a_workspace_admin_adds_memberships_only_in_workspaces_they_administer(
    client, staff, tenant, other_tenant, ours, theirs
):
    client.force_login(staff)
    member = ours.member

    client.post(_url(Membership, "add"), {"user": member.pk, "tenant": other_tenant.pk, "role": "admin"})
    client.post(_url(User, "change", member.pk), _user_change_post(member, **{
        "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "1",
        "memberships-0-id": Membership.objects.get(user=member).pk, "memberships-0-user": member.pk,
        "memberships-0-tenant": tenant.pk, "memberships-0-role": "manager",
        "memberships-1-user": member.pk, "memberships-1-tenant": other_tenant.pk, "memberships-1-role": "admin",
    }))
    assert not Membership.objects.filter(tenant=other_tenant, user=member).exists()

    # Nor may they pull another workspace's user into their own.
    client.post(_url(Membership, "add"), {"user": theirs.member.pk, "tenant": tenant.pk, "role": "rep"})
    assert not Membership.objects.filter(tenant=tenant, user=theirs.member).exists()


def test_a_new_user_is_added_together_with_a_role_in_the_admins_workspace(client, staff, tenant, other_tenant):
    client.force_login(staff)
    base = {"username": "nina_new", "password1": "Correct-horse-42", "password2": "Correct-horse-42",
            "usable_password": "true", "memberships-INITIAL_FORMS": "0", "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000"}

    elsewhere = client.post(_url(User, "add"), {**base, "memberships-TOTAL_FORMS": "1",
                                                "memberships-0-tenant": other_tenant.pk,
                                                "memberships-0-role": "rep"})
    assert elsewhere.status_code == 200 and not User.objects.filter(username="nina_new").exists()
    alone = client.post(_url(User, "add"), {**base, "memberships-TOTAL_FORMS": "0"})
    assert alone.status_code == 200 and not User.objects.filter(username="nina_new").exists()

    ok = client.post(_url(User, "add"), {**base, "memberships-TOTAL_FORMS": "1", "memberships-0-tenant": tenant.pk,
                                         "memberships-0-role": "rep"})
    assert ok.status_code == 302
    nina = User.objects.get(username="nina_new")
    assert list(nina.memberships.values_list("tenant_id", "role")) == [(tenant.pk, "rep")]
    assert client.get(_url(User, "change", nina.pk)).status_code == 200


def test_a_typed_in_id_of_another_workspaces_object_shows_no_label(client, staff, tenant, theirs, ours):
    ListMembership = apps.get_model("contacts", "ListMembership")
    spy = ContactFactory(tenant=theirs.tenant, email="secret.person@outsider.example", last_name="Secretname")
    client.force_login(staff)

    response = client.post(_url(ListMembership, "add"), {"contact_list": ours.contact_list.pk, "contact": spy.pk})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Secretname" not in page and "secret.person" not in page
    assert not ListMembership.objects.filter(contact=spy).exists()


def test_a_role_below_admin_gives_no_admin_access_to_that_workspace(client, staff, other_tenant, theirs):
    Contact = apps.get_model("contacts", "Contact")
    MembershipFactory(user=staff, tenant=other_tenant, role=Role.MANAGER)
    client.force_login(staff)
    assert theirs.contact.pk not in _listed(client, Contact)[1]


def test_staff_who_administer_no_workspace_see_no_workspace_data(client, tenant, ours):
    Contact = apps.get_model("contacts", "Contact")
    idle = UserFactory(username="idle_staff", is_staff=True)
    MembershipFactory(user=idle, tenant=tenant, role=Role.REP)
    idle.user_permissions.set(Permission.objects.all())
    ours.contact  # noqa: B018 - there is something to see
    client.force_login(idle)
    assert client.get(_url(Contact, "changelist")).status_code == 403
    assert client.get(reverse("admin:index")).context["app_list"] == []


def test_a_workspace_policy_changed_in_the_admin_is_audited_like_on_the_settings_page(client, staff, tenant, rf):
    Tenant = apps.get_model("scendcore", "Tenant")
    request = rf.get("/")
    request.user = staff
    model_admin = admin.site._registry[Tenant]
    data = _form_data(model_admin.get_form(request, tenant)(instance=tenant))
    data.update({"reps_may_auto_send": "on", "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
                 "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000"})
    client.force_login(staff)

    assert client.post(_url(Tenant, "change", tenant.pk), data).status_code == 302

    tenant.refresh_from_db()
    assert tenant.reps_may_auto_send is True
    entry = AuditEntry.objects.get(tenant=tenant, object_type="tenant")
    assert entry.actor == staff and entry.changes == {"reps_may_auto_send": [False, True]}
