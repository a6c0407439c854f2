"""The Messages pages for every role: reps see the mail to the contacts they may see,
managers everyone's, and a message's page shows it as it was delivered."""
import pytest

from messaging.models import MessageState
from scendcore.models import Role
from tests.factories import ContactFactory, MembershipFactory, UserFactory

from .conftest import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(tenant):
    user = UserFactory(username="carl_colleague")
    MembershipFactory(user=user, tenant=tenant, role=Role.REP)
    return user


@pytest.fixture
def own_only(tenant):
    tenant.reps_see_only_own_contacts = True
    tenant.save(update_fields=["reps_see_only_own_contacts"])
    return tenant


def mail_to(tenant, owner, *, subject, state=MessageState.SENT):
    contact = ContactFactory(tenant=tenant, owner=owner)
    return make_message(tenant=tenant, contact=contact, subject=subject, state=state, key=subject)


def test_a_rep_sees_their_sent_queued_and_failed_mail(rep_client, tenant, rep, other_tenant):
    for subject, state in [("Went out", MessageState.SENT), ("Waiting", MessageState.QUEUED),
                           ("Broke", MessageState.FAILED)]:
        mail_to(tenant, rep, subject=subject, state=state)
    foreign = mail_to(other_tenant, None, subject="Outsider mail")

    page = rep_client.get("/messages/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "Went out" in body and "Waiting" in body and "Broke" in body
    assert "Outsider mail" not in body
    assert rep_client.get(f"/messages/{foreign.pk}/").status_code == 404


def test_the_main_navigation_leads_a_rep_to_messages(rep_client):
    page = rep_client.get("/messages/").content.decode()

    assert 'href="/messages/"' in page.split('<nav class="mainnav"', 1)[1].split("</nav>", 1)[0]


def test_a_rep_who_sees_only_own_contacts_sees_only_their_contacts_mail(rep_client, own_only, rep, colleague):
    mine = mail_to(own_only, rep, subject="To my contact")
    theirs = mail_to(own_only, colleague, subject="To a colleague's contact", state=MessageState.FAILED)

    listing = rep_client.get("/messages/").content.decode()

    assert "To my contact" in listing and "To a colleague" not in listing
    assert "Failed" not in listing  # the state counts leave the colleague's mail out too
    assert rep_client.get(f"/messages/{mine.pk}/").status_code == 200
    assert rep_client.get(f"/messages/{theirs.pk}/").status_code == 404


def test_a_manager_sees_every_reps_mail(manager_client, own_only, rep, colleague):
    mail_to(own_only, rep, subject="To my contact")
    mail_to(own_only, colleague, subject="To a colleague's contact")

    listing = manager_client.get("/messages/").content.decode()

    assert "To my contact" in listing and "To a colleague&#x27;s contact" in listing


def test_resending_stays_a_managers_decision(rep_client, tenant, rep):
    failed = mail_to(tenant, rep, subject="Broke", state=MessageState.FAILED)

    assert "Resend" not in rep_client.get(f"/messages/{failed.pk}/").content.decode()
    assert rep_client.post(f"/messages/{failed.pk}/resend/").status_code == 403
    failed.refresh_from_db()
    assert failed.state == MessageState.FAILED


def test_a_sent_messages_page_shows_it_as_delivered(manager_client, tenant, mailbox, smtp_server):
    from messaging.services.delivery import deliver_due, message_enqueue

    mailbox.signature = "Sam Seller\nScendly Sales"
    mailbox.save(update_fields=["signature"])
    tenant.postal_address = "1 Market Street, Springfield"
    tenant.save(update_fields=["postal_address"])
    message = message_enqueue(message=make_message(tenant=tenant, mailbox=mailbox, state=MessageState.APPROVED,
                                                   body_text="Hi Pat,\n\nshort note.\n\nBest,"))
    deliver_due()
    [sent] = smtp_server.messages

    page = manager_client.get(f"/messages/{message.pk}/").content.decode()

    delivered = page.split('id="delivered"', 1)[1]
    assert "Sam Seller\nScendly Sales" in delivered  # the signature
    assert "1 Market Street, Springfield" in delivered and "Unsubscribe: http://127.0.0.1:8000/u/" in delivered
    for header in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert f"<dt>{header}</dt>" in delivered, header
    assert "Sam Seller &lt;sam@scendly.example&gt;" in delivered
    assert sent["List-Unsubscribe"].split(", ")[1].strip("<>") in delivered


def test_a_rejected_draft_shows_as_rejected_with_its_reason_and_reviewer(manager_client, tenant, manager):
    from approvals.services import approval_reject
    from tests.approvals.builders import pending_approval

    approval = pending_approval(tenant=tenant, subject="Not this one")
    approval_reject(tenant=tenant, approval=approval, actor=manager, reason="Too pushy for a first touch")

    page = manager_client.get(f"/messages/{approval.message.pk}/").content.decode()

    assert ">Rejected</span>" in page and "Cancelled" not in page
    assert "Rejection reason" in page and "Last error" not in page
    assert "Too pushy for a first touch" in page
    assert (manager.get_full_name() or manager.username) in page.split("Rejection reason", 1)[1]


def test_a_rejections_time_is_in_the_viewers_zone_and_labelled(manager_client, tenant, manager):
    from django.utils import timezone

    from approvals.models import ApprovalDecision
    from approvals.services import approval_reject
    from scendcore.templatetags.zones import when
    from scendcore.zones import zone_named
    from tests.approvals.builders import pending_approval

    manager.memberships.filter(tenant=tenant).update(timezone="Asia/Tokyo")
    approval = pending_approval(tenant=tenant, subject="Not this one")
    approval_reject(tenant=tenant, approval=approval, actor=manager, reason="Too pushy")
    decided = ApprovalDecision.objects.get(request=approval).created_at

    page = manager_client.get(f"/messages/{approval.message.pk}/").content.decode()

    with timezone.override(zone_named("Asia/Tokyo")):
        expected = when(decided)
    assert "JST" in expected and expected in page.split("Rejection reason", 1)[1]


def test_long_values_wrap_at_the_token_not_at_every_letter():
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "messaging.css").read_text()
    facts = css.split("dl.facts dd", 1)[1].split("}", 1)[0]

    assert "break-all" not in facts and "overflow-wrap: anywhere" in facts
