"""One sign-off per email: the agent's persona signs it, unless the persona has no name
or the admin chose the mailbox's signature instead; the From name is whoever signs.
Drafted by the real processor, delivered to a real SMTP server."""
import email.utils
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from agents.models import Agent
from messaging.models import Mailbox, OutboundMessage
from messaging.services.delivery import deliver_due
from scendcore.models import Tenant
from tests.factories import AgentFactory, SequenceFactory, StepFactory, manager_of
from tests.sequences.engine_helpers import due_enrollment, sweep_inline

pytestmark = pytest.mark.django_db

SIGNATURE = "Sam Seller\nSales Director, Scendly"
CLOSINGS = ("Best,", "Thanks,", "All the best,")


@pytest.fixture
def signed_mailbox(mailbox):
    mailbox.signature = SIGNATURE
    mailbox.save(update_fields=["signature"])
    return mailbox


def delivered(tenant, mailbox, smtp_server, **persona):
    """The email the processor drafts with an agent of this persona, as the server got it."""
    agent = AgentFactory(tenant=tenant, autonomy="auto_send", sender_title="Account Executive",
                         company_name="Scendly", **persona)
    sequence = SequenceFactory(tenant=tenant, agent=agent, sender_profile=mailbox, status="active",
                               owner=manager_of(tenant))
    step = StepFactory(sequence=sequence, order=1, job_type="initial_outreach")
    now = timezone.now()
    due_enrollment(sequence, step, at=now)
    sweep_inline(now=now)
    deliver_due()
    [sent] = smtp_server.messages
    text = sent.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = sent.get_body(preferencelist=("html",)).get_content()
    letter = text.split("\n--\n", 1)[0].strip()  # what comes before the compliance footer
    return sent, letter, html


def from_name(sent):
    return email.utils.parseaddr(sent["From"])[0]


def closings(letter):
    return [line for line in letter.splitlines() if line.strip() in CLOSINGS]


def test_the_persona_signs_and_the_email_comes_from_the_persona(tenant, signed_mailbox, smtp_server):
    sent, letter, html = delivered(tenant, signed_mailbox, smtp_server, sender_name="Morgan Reyes")

    assert letter.endswith("Morgan Reyes\nAccount Executive, Scendly"), letter
    assert "Sam Seller" not in letter and "Sales Director" not in html
    assert len(closings(letter)) == 1
    assert from_name(sent) == "Morgan Reyes"
    assert OutboundMessage.objects.get(tenant=tenant).from_address == "Morgan Reyes <sam@scendly.example>"


def test_a_persona_without_a_name_is_signed_by_the_mailbox_signature(tenant, signed_mailbox, smtp_server):
    sent, letter, html = delivered(tenant, signed_mailbox, smtp_server, sender_name="")

    assert letter.endswith(SIGNATURE), letter
    assert letter.count("Sam Seller") == 1 and html.count("Sales Director, Scendly") == 1
    assert len(closings(letter)) == 1
    assert from_name(sent) == "Sam Seller"


def test_the_admin_may_sign_with_the_mailbox_signature_instead_of_the_persona(tenant, signed_mailbox, smtp_server):
    sent, letter, html = delivered(tenant, signed_mailbox, smtp_server, sender_name="Morgan Reyes",
                                   sign_with_mailbox_signature=True)

    assert letter.endswith(SIGNATURE), letter
    assert "Morgan Reyes" not in letter and "Account Executive" not in letter
    assert letter.count("Sam Seller") == 1 and html.count("Sales Director, Scendly") == 1
    assert len(closings(letter)) == 1
    assert from_name(sent) == "Sam Seller"


def test_the_demo_workspace_signs_as_one_company(db, celery_eager):
    call_command("seed_demo", stdout=StringIO())
    acme = Tenant.objects.get(name="Acme Outbound")

    companies = {agent.company_name for agent in Agent.objects.filter(tenant=acme)}
    mailbox = Mailbox.objects.get(tenant=acme)
    assert companies == {acme.name}
    assert acme.name in mailbox.signature and mailbox.from_name in mailbox.signature
    assert "ScendCore" not in mailbox.signature
