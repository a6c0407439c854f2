"""Every URL that takes an object id answers 404 to a user of another tenant.

The patterns come from the live resolver, so a view added later is covered without
editing this file. Each `<model>_id` kwarg has a builder that creates an object of
`tenant`; builders share one `World`, so the kwargs of one URL fit together (the step
belongs to the sequence, the enrollment is of that sequence, ...). A kwarg ending in
`_id` without a builder fails the suite: new kinds of id must be added here first."""
import itertools
import re
from functools import cached_property

import pytest
from django.apps import apps
from django.contrib.admindocs.views import extract_views_from_urlpatterns
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from scendcore.models import Role
from tests.factories import (
    ContactFactory, ContactListFactory, EnrollmentFactory, MembershipFactory, SequenceFactory, StepFactory,
    UserFactory,
)

# The Django admin's `object_id` kwargs are its own: its tenant scoping is walked from
# the admin registry in tests/scendcore/test_admin_scoping.py. Everything else must
# follow the tenancy rule here.
SKIPPED_NAMESPACES = {"admin"}
ID_KWARG = re.compile(r"^\w+_id$")
ROUTE_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>\w+)>")
_keys = itertools.count(1)


def _pattern_params(pattern):
    """[(kwarg, converter name)] of one level of a URL pattern."""
    if isinstance(pattern, RoutePattern):
        return [(m["name"], m["conv"] or "str") for m in ROUTE_PARAM.finditer(str(pattern))]
    if isinstance(pattern, RegexPattern):
        return [(name, "regex") for name in pattern.regex.groupindex]
    return []


def walk(resolver=None, prefix=(), namespaces=()):
    """(route levels, namespaces, URLPattern) for every endpoint, recursively."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespaces + ((entry.namespace,) if entry.namespace else ())
            yield from walk(entry, prefix + (entry.pattern,), ns)
        elif isinstance(entry, URLPattern):
            yield prefix + (entry.pattern,), namespaces, entry


def id_patterns():
    """Every non-admin endpoint with at least one *_id kwarg, as dicts."""
    found = []
    for levels, namespaces, entry in walk():
        if SKIPPED_NAMESPACES & set(namespaces):
            continue
        params = [p for level in levels for p in _pattern_params(level)]
        if not any(ID_KWARG.match(name) for name, _ in params):
            continue
        name = ":".join(namespaces + ((entry.name,) if entry.name else ()))
        found.append({"levels": levels, "params": params, "name": name or str(levels[-1]), "callback": entry.callback})
    return found


def build_url(levels, values):
    parts = []
    for level in levels:
        if not isinstance(level, RoutePattern):
            raise AssertionError(f"regex URL pattern {level} needs a builder in this test")
        parts.append(ROUTE_PARAM.sub(lambda m: str(values[m["name"]]), str(level)))
    return "/" + "".join(parts)


class World:
    """One tenant's connected objects, each created on first use."""

    def __init__(self, tenant, member):
        self.tenant = tenant
        self.member = member

    @cached_property
    def sequence(self):
        return SequenceFactory(tenant=self.tenant, owner=self.member)

    @cached_property
    def step(self):
        return StepFactory(sequence=self.sequence)

    @cached_property
    def contact(self):
        return ContactFactory(tenant=self.tenant, owner=self.member)

    @cached_property
    def enrollment(self):
        return EnrollmentFactory(sequence=self.sequence, contact=self.contact, current_step=self.step)

    @cached_property
    def contact_list(self):
        contact_list = ContactListFactory(tenant=self.tenant, created_by=self.member)
        contact_list.contacts.add(self.contact)
        return contact_list

    @cached_property
    def import_job(self):
        # Looked up lazily: a URL taking import_id needs contacts.ImportJob to exist.
        ImportJob = apps.get_model("contacts", "ImportJob")
        return ImportJob.objects.create(
            tenant=self.tenant, created_by=self.member, file_name="people.csv",
            source_text="Email\nann@example.com\n", headers=["Email"], mapping={"0": "email"}, total_rows=1,
        )

    @cached_property
    def agent(self):
        return self.sequence.agent

    @cached_property
    def agent_job(self):
        AgentJob = apps.get_model("agents", "AgentJob")
        return AgentJob.objects.create(
            tenant=self.tenant, agent=self.agent, enrollment=self.enrollment, step=self.step,
            status="failed", attempts=4, error="provider timed out",
        )

    @cached_property
    def message(self):
        OutboundMessage = apps.get_model("messaging", "OutboundMessage")
        return OutboundMessage.objects.create(
            tenant=self.tenant, idempotency_key=f"tenancy-walk:{next(_keys)}", enrollment=self.enrollment,
            step=self.step, contact=self.contact, mailbox=self.mailbox, to_address=self.contact.email,
            subject="Quick idea", body_text="Hello", state="pending_approval",
        )

    @cached_property
    def approval(self):
        ApprovalRequest = apps.get_model("approvals", "ApprovalRequest")
        return ApprovalRequest.objects.create(
            tenant=self.tenant, message=self.message, enrollment=self.enrollment, status="pending",
            review_reasons=["agent is set to review every draft"],
        )

    @cached_property
    def mailbox(self):
        return self.sequence.sender_profile

    @cached_property
    def pool(self):
        MailboxPool = apps.get_model("messaging", "MailboxPool")
        PoolMember = apps.get_model("messaging", "PoolMember")
        pool = MailboxPool.objects.create(tenant=self.tenant, name="Main pool")
        PoolMember.objects.create(pool=pool, mailbox=self.mailbox, weight=1)
        return pool

    @cached_property
    def task(self):
        Task = apps.get_model("messaging", "Task")
        return Task.objects.create(
            tenant=self.tenant, idempotency_key=f"tenancy-walk-task:{next(_keys)}", owner=self.member,
            contact=self.contact, enrollment=self.enrollment, step=self.step, title="Call about the pilot",
        )


    @cached_property
    def quarantined(self):
        InboundQuarantine = apps.get_model("messaging", "InboundQuarantine")
        return InboundQuarantine.objects.create(
            tenant=self.tenant, mailbox=self.mailbox, source="webhook", raw=b"From: a@b.example\r\n\r\nhi",
            raw_sha256=f"{next(_keys):064x}", error="RuntimeError: processing failed",
        )


BUILDERS = {
    "sequence_id": lambda w: w.sequence.pk,
    "step_id": lambda w: w.step.pk,
    "node_id": lambda w: w.step.pk,  # a node of a flow is a Step row
    "enrollment_id": lambda w: w.enrollment.pk,
    "contact_id": lambda w: w.contact.pk,
    "list_id": lambda w: w.contact_list.pk,
    "import_id": lambda w: w.import_job.pk,
    "agent_id": lambda w: w.agent.pk,
    "job_id": lambda w: w.agent_job.pk,
    "approval_id": lambda w: w.approval.pk,
    "mailbox_id": lambda w: w.mailbox.pk,
    "pool_id": lambda w: w.pool.pk,
    "message_id": lambda w: w.message.pk,
    "task_id": lambda w: w.task.pk,
    "quarantine_id": lambda w: w.quarantined.pk,
}
# Values for kwargs that are not object ids, by converter.
OTHER_VALUES = {"int": 1, "str": "x", "slug": "x", "path": "x", "uuid": "00000000-0000-0000-0000-000000000000"}

ID_PATTERNS = id_patterns()


def _ids(patterns):
    return [p["name"] for p in patterns]


def test_the_walker_finds_every_id_taking_url_the_resolver_knows():
    # An independent enumeration (the one admindocs uses) must agree with the walker,
    # so the parametrised test below cannot silently check fewer URLs than exist.
    independent = [
        (regex, namespace)
        for _view, regex, namespace, _name in extract_views_from_urlpatterns(get_resolver().url_patterns)
        if not (set(namespace or []) & SKIPPED_NAMESPACES)
        and re.search(r"<(?:\w+:)?\w+_id>|\(\?P<\w+_id>", regex)
    ]
    assert len(ID_PATTERNS) > 0
    assert len(ID_PATTERNS) == len(independent)
    names = set(_ids(ID_PATTERNS))
    for known in ("sequences:sequence-detail", "sequences:step-edit", "contacts:detail"):
        assert known in names, f"the walker missed {known}"


def test_every_id_kwarg_in_the_urls_has_a_builder():
    unknown = sorted(
        {(p["name"], kwarg) for p in ID_PATTERNS for kwarg, _ in p["params"]
         if ID_KWARG.match(kwarg) and kwarg not in BUILDERS}
    )
    assert not unknown, (
        f"URL kwargs without a builder in tests/test_tenancy_urls.py: {unknown}. Use one of "
        f"{sorted(BUILDERS)} or add a builder for the new kind of id."
    )


def test_the_builders_make_consistent_objects_of_one_tenant(tenant):
    member = UserFactory()
    MembershipFactory(user=member, tenant=tenant, role=Role.ADMIN)
    world = World(tenant, member)
    for kwarg, build in BUILDERS.items():
        assert build(world), kwarg
    assert world.step.sequence_id == world.sequence.pk
    assert world.enrollment.sequence_id == world.sequence.pk and world.enrollment.contact_id == world.contact.pk
    assert world.approval.message.enrollment_id == world.enrollment.pk
    assert world.agent_job.agent_id == world.agent.pk == world.sequence.agent_id
    objects = [world.sequence, world.step, world.enrollment, world.contact, world.contact_list, world.import_job,
               world.agent, world.agent_job, world.approval, world.mailbox, world.pool, world.message, world.task,
               world.quarantined]
    assert {obj.tenant_id for obj in objects} == {tenant.pk}


@pytest.mark.parametrize("pattern", ID_PATTERNS, ids=_ids(ID_PATTERNS))
def test_outsider_gets_404_for_every_id_taking_url(pattern, tenant, other_tenant, outsider, client):
    unknown = [k for k, _ in pattern["params"] if ID_KWARG.match(k) and k not in BUILDERS]
    if unknown:
        pytest.fail(f"{pattern['name']} takes {unknown}: add a builder to BUILDERS")

    member = UserFactory(username="tenant_admin")
    MembershipFactory(user=member, tenant=tenant, role=Role.ADMIN)
    world = World(tenant, member)
    values = {
        kwarg: BUILDERS[kwarg](world) if ID_KWARG.match(kwarg) else OTHER_VALUES.get(conv, "x")
        for kwarg, conv in pattern["params"]
    }
    url = build_url(pattern["levels"], values)
    assert resolve(url).func == pattern["callback"], f"{url} does not resolve back to {pattern['name']}"

    # Control: the object is really there for its own tenant (a view that 404s for
    # everybody would pass the outsider checks without proving anything).
    client.force_login(member)
    assert client.get(url).status_code != 404, f"{url} is 404 for an admin of its own tenant"
    client.logout()

    client.force_login(outsider)
    answers = {
        "GET": client.get(url).status_code,
        "POST": client.post(url, {}).status_code,
        "HTMX GET": client.get(url, headers={"HX-Request": "true"}).status_code,
        "HTMX POST": client.post(url, {}, headers={"HX-Request": "true"}).status_code,
        "PUT": client.put(url, {}, content_type="application/json").status_code,
    }
    wrong = {method: status for method, status in answers.items() if status not in (404, 405)}
    assert not wrong, f"{url} answered an outsider with {wrong} (must be 404, or 405 for a method it refuses)"
    assert 404 in answers.values(), f"{url} refused every method with 405"
