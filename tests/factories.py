"""Factories derive every related object from one tenant: pass `tenant=` once."""
import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from agents.models import Agent
from contacts.models import Contact, ContactList, ImportJob
from messaging.models import Mailbox, MailboxPool, OutboundMessage, Task
from scendcore.models import Membership, Role, Tenant
from sequences.models import Enrollment, Sequence, Step, step_kind_for
from sequences.services.versions import first_version_create


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    postal_address = "1 Market Street, San Francisco, CA 94105"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.REP


def manager_of(tenant):
    """A manager of `tenant` (made on first use): the owner of sequences whose drafts may
    be sent without review."""
    membership = Membership.objects.filter(tenant=tenant, role=Role.MANAGER).select_related("user").first()
    return membership.user if membership else MembershipFactory(tenant=tenant, role=Role.MANAGER).user


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"contact{n}@acme-{n % 7}.example")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Faker("company")
    title = "Head of Sales"
    timezone = "America/New_York"


class ContactListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactList

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"List {n}")


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Agent {n}")
    sender_name = "Sam Seller"
    company_name = "Scendly"
    company_description = "a platform that books more meetings for B2B sales teams"


class MailboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mailbox

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Mailbox {n}")
    from_name = "Sam Seller"
    from_email = factory.Sequence(lambda n: f"sam{n}@scendly.example")
    smtp_host = "127.0.0.1"
    smtp_port = 2525
    tls_mode = "none"


class SequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sequence
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Sequence {n}")
    agent = factory.LazyAttribute(lambda s: AgentFactory(tenant=s.tenant))
    sender_profile = factory.LazyAttribute(lambda s: MailboxFactory(tenant=s.tenant))

    @factory.post_generation
    def first_version(sequence, create, extracted, **kwargs):
        if create and sequence.current_version_id is None:
            first_version_create(sequence=sequence)


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Step

    sequence = factory.SubFactory(SequenceFactory)
    tenant = factory.LazyAttribute(lambda s: s.sequence.tenant)
    version_id = factory.LazyAttribute(lambda s: s.sequence.current_version_id)
    key = factory.Sequence(lambda n: f"node-{n}")
    order = factory.LazyAttribute(lambda s: s.sequence.current_nodes().count() + 1)
    channel = "email"
    kind = factory.LazyAttribute(lambda s: step_kind_for(s.channel))
    delay_value = 0
    delay_unit = "days"


class EnrollmentFactory(factory.django.DjangoModelFactory):
    """Raw row for read-side tests; behaviour tests enroll through the service."""

    class Meta:
        model = Enrollment

    sequence = factory.SubFactory(SequenceFactory)
    tenant = factory.LazyAttribute(lambda e: e.sequence.tenant)
    contact = factory.LazyAttribute(lambda e: ContactFactory(tenant=e.tenant))
    version_id = factory.LazyAttribute(lambda e: e.sequence.current_version_id)
    enrolled_at = factory.LazyFunction(timezone.now)


class ImportJobFactory(factory.django.DjangoModelFactory):
    """An uploaded CSV waiting for its column mapping."""

    class Meta:
        model = ImportJob

    tenant = factory.SubFactory(TenantFactory)
    file_name = "contacts.csv"
    source_text = "Email,First Name\nann@example.com,Ann\n"
    headers = factory.LazyFunction(lambda: ["Email", "First Name"])
    mapping = factory.LazyFunction(lambda: {"0": "email", "1": "first_name"})
    total_rows = 1


class MailboxPoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MailboxPool

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Pool {n}")


class OutboundMessageFactory(factory.django.DjangoModelFactory):
    """A queued email; pass `tenant=` (and an `enrollment=` of that tenant if it matters)."""

    class Meta:
        model = OutboundMessage

    tenant = factory.SubFactory(TenantFactory)
    enrollment = factory.LazyAttribute(lambda m: EnrollmentFactory(sequence=SequenceFactory(tenant=m.tenant)))
    contact = factory.LazyAttribute(lambda m: m.enrollment.contact)
    to_address = factory.LazyAttribute(lambda m: m.contact.email)
    idempotency_key = factory.Sequence(lambda n: f"test-message-{n}")
    state = "queued"
    subject = "Quick question"
    body_text = "Hi there"


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    tenant = factory.SubFactory(TenantFactory)
    contact = factory.LazyAttribute(lambda t: ContactFactory(tenant=t.tenant))
    idempotency_key = factory.Sequence(lambda n: f"test-task-{n}")
    title = "Call about the pilot"
