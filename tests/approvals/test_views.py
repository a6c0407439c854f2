"""The approval queue pages: listing, filters, HTMX partials, actions, permissions."""
import pytest
from django.urls import reverse

from approvals.models import ApprovalDecision
from tests.factories import ContactFactory, SequenceFactory, StepFactory

from .builders import pending_approval

pytestmark = pytest.mark.django_db
QUEUE = reverse("approvals:queue")


def _url(name, approval):
    return reverse(f"approvals:{name}", kwargs={"approval_id": approval.pk})


def test_managers_see_pending_drafts_oldest_first_with_contact_context(tenant, manager_client):
    older = pending_approval(tenant=tenant, subject="First draft", contact=ContactFactory(
        tenant=tenant, first_name="Dana", last_name="Older", company="Globex", title="VP Sales"))
    newer = pending_approval(tenant=tenant, subject="Second draft")

    page = manager_client.get(QUEUE).content.decode()

    assert page.index("First draft") < page.index("Second draft")
    assert "Dana Older" in page and "VP Sales" in page and "Globex" in page
    assert f'id="approval-{older.pk}"' in page and f'id="approval-{newer.pk}"' in page
    assert 'id="approvals-count">2</span>' in page


def test_ai_and_contact_text_is_escaped_on_the_card(tenant, manager_client):
    pending_approval(tenant=tenant, body="<script>alert(1)</script>", contact=ContactFactory(
        tenant=tenant, company="<img src=x onerror=alert(2)>"))
    page = manager_client.get(QUEUE).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page


def test_filters_narrow_the_queue_and_are_kept_in_action_urls(tenant, manager_client):
    sms = pending_approval(tenant=tenant, channel="sms", subject="", body="Text for SMS")
    pending_approval(tenant=tenant, subject="Email draft")

    page = manager_client.get(QUEUE, {"channel": "sms"}).content.decode()

    assert "Text for SMS" in page and "Email draft" not in page
    assert f'{_url("approve", sms)}?channel=sms' in page


def test_the_filtered_queue_is_served_as_a_partial_for_htmx(tenant, manager_client):
    approval = pending_approval(tenant=tenant)
    sequence_id = approval.enrollment.sequence_id
    response = manager_client.get(QUEUE, {"sequence": sequence_id}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="approval-queue">')
    assert "<html" not in body
    assert f'id="approval-{approval.pk}"' in body


def test_approving_over_htmx_removes_the_card_and_updates_the_badge(tenant, manager_client):
    approval = pending_approval(tenant=tenant)
    other = pending_approval(tenant=tenant)

    response = manager_client.post(_url("approve", approval), headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="approval-{approval.pk}"' not in body and f'id="approval-{other.pk}"' in body
    assert 'hx-swap-oob="true">1</span>' in body
    assert "Approved the draft" in body
    approval.message.refresh_from_db()
    assert approval.message.state == "queued"


def test_approving_with_edited_fields_is_an_edit_and_approve(tenant, manager_client):
    approval = pending_approval(tenant=tenant, subject="Original")
    manager_client.post(_url("approve", approval), {"subject": "Edited", "body": "New body"})
    decision = ApprovalDecision.objects.get(request=approval)
    assert (decision.kind, decision.subject_after, decision.body_after) == ("edited_approved", "Edited", "New body")


def test_an_invalid_edit_is_rerendered_with_its_error_and_status_422(tenant, manager_client):
    approval = pending_approval(tenant=tenant)
    response = manager_client.post(_url("approve", approval), {"subject": "S", "body": ""},
                                   headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "The message needs a body." in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_reject_without_a_reason_is_422_and_with_one_follows_the_policy(tenant, manager_client):
    approval = pending_approval(tenant=tenant)
    assert manager_client.post(_url("reject", approval), {"reason": ""}).status_code == 422
    response = manager_client.post(_url("reject", approval), {"reason": "Off tone"})
    assert response.status_code == 302
    approval.refresh_from_db()
    assert approval.status == "rejected"


def test_the_loser_of_a_decision_gets_a_clear_message(tenant, manager_client, admin):
    approval = pending_approval(tenant=tenant)
    manager_client.post(_url("approve", approval))
    response = manager_client.post(_url("reject", approval), {"reason": "late"}, headers={"HX-Request": "true"})
    assert "Already approved by Max_Manager at" in response.content.decode()


def test_a_blocked_draft_says_why_and_cannot_be_approved(tenant, manager_client):
    approval = pending_approval(tenant=tenant)
    contact = approval.message.contact
    contact.do_not_contact = True
    contact.save()

    page = manager_client.get(QUEUE).content.decode()
    assert "Cannot be sent: The contact is marked do-not-contact." in page
    response = manager_client.post(_url("approve", approval), headers={"HX-Request": "true"})
    assert "do-not-contact" in response.content.decode()
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_regenerate_puts_a_new_draft_in_the_card(tenant, manager_client):
    step = StepFactory(sequence=SequenceFactory(tenant=tenant), value_proposition="Faster onboarding")
    approval = pending_approval(tenant=tenant, step=step, body="old body")
    response = manager_client.post(_url("regenerate", approval), headers={"HX-Request": "true"})
    assert "faster onboarding" in response.content.decode().lower()
    assert ApprovalDecision.objects.filter(request=approval, kind="regenerated").exists()


def test_bulk_approve_handles_the_selected_drafts(tenant, manager_client):
    first, second, untouched = (pending_approval(tenant=tenant) for _ in range(3))
    response = manager_client.post(reverse("approvals:bulk"), {"action": "approve",
                                                               "approval_ids": [first.pk, second.pk]})
    assert response.status_code == 302
    statuses = [a.status for a in (first, second, untouched) if not a.refresh_from_db()]
    assert statuses == ["approved", "approved", "pending"]


def test_reps_see_only_drafts_for_their_own_contacts_and_cannot_approve_by_default(tenant, rep, rep_client, manager):
    mine = pending_approval(tenant=tenant, subject="For the rep contact", contact=ContactFactory(tenant=tenant, owner=rep))
    theirs = pending_approval(tenant=tenant, subject="For someone else", contact=ContactFactory(tenant=tenant, owner=manager))

    page = rep_client.get(QUEUE).content.decode()
    assert "For the rep contact" in page and "For someone else" not in page
    assert 'id="approvals-count"' not in page
    assert rep_client.post(_url("approve", mine)).status_code == 403
    assert rep_client.post(_url("approve", theirs)).status_code == 404
    mine.refresh_from_db()
    assert mine.status == "pending"


def test_reps_may_approve_their_own_contacts_drafts_when_the_tenant_allows(tenant, rep, rep_client):
    tenant.reps_can_approve = True
    tenant.save()
    mine = pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, owner=rep))
    pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, owner=None))  # not the rep's
    assert 'id="approvals-count">1</span>' in rep_client.get(QUEUE).content.decode()
    rep_client.post(_url("approve", mine))
    mine.refresh_from_db()
    assert mine.status == "approved"


@pytest.mark.parametrize("name", ["approve", "reject", "regenerate"])
def test_outsider_gets_404_for_our_approval_actions(tenant, outsider_client, name):
    approval = pending_approval(tenant=tenant)
    assert outsider_client.post(_url(name, approval), {"reason": "x"}).status_code == 404
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_outsider_sees_none_of_our_drafts_in_their_queue_or_badge(tenant, outsider_client):
    pending_approval(tenant=tenant, subject="Secret plan for Globex")
    page = outsider_client.get(QUEUE).content.decode()
    assert "Secret plan" not in page
    assert 'id="approvals-count"' not in page


def test_outsider_bulk_approve_touches_nothing_of_ours(tenant, outsider_client):
    approval = pending_approval(tenant=tenant)
    outsider_client.post(reverse("approvals:bulk"), {"action": "approve", "approval_ids": [approval.pk]})
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_the_badge_counts_with_one_query(tenant, manager, manager_client, django_assert_max_num_queries):
    from django.test import RequestFactory

    from approvals.context_processors import pending_count
    from scendcore.models import Membership

    for _ in range(3):
        pending_approval(tenant=tenant)
    request = RequestFactory().get("/")
    request.membership = Membership.objects.select_related("tenant").get(user=manager)
    request.tenant = request.membership.tenant
    with django_assert_max_num_queries(1):
        assert pending_count(request) == {"pending_approvals_count": 3}


def _queue_queries(client, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit) as captured:
        response = client.get(QUEUE)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_queue_page_does_not_query_per_card(tenant, manager, manager_client, django_assert_max_num_queries):
    """Thread, contact, owner, step, sequence and agent are joined or batched: twenty
    cards cost what one does."""
    from messaging.models import OutboundMessage
    from tests.factories import OutboundMessageFactory

    def draft_with_history():
        approval = pending_approval(tenant=tenant, contact=ContactFactory(tenant=tenant, owner=manager),
                                    angle="Their new region", cta="A short call")
        OutboundMessageFactory(tenant=tenant, enrollment=approval.enrollment, state="sent",
                               subject="Earlier note", step=approval.message.step)
        return approval

    draft_with_history()
    one = _queue_queries(manager_client, django_assert_max_num_queries, 30)
    for _ in range(19):
        draft_with_history()
    assert OutboundMessage.objects.filter(state="sent").count() == 20

    page = manager_client.get(QUEUE).content.decode()
    assert page.count('class="card approval-card') == 20 and page.count("Earlier note") == 20
    assert _queue_queries(manager_client, django_assert_max_num_queries, one) == one
