"""The processor never auto-sends a draft whose link only looks like it is on an
allowed domain: the attacks of the security report end in the approval queue."""
import pytest

from approvals.models import ApprovalRequest
from messaging.models import OutboundMessage

from .engine_helpers import due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db

ATTACKS = [
    ("https://evil.example#@acme-outbound.example/",
     ["link reads as acme-outbound.example but opens evil.example", "link to unapproved domain: evil.example"]),
    ("https://evil.example?@acme-outbound.example/",
     ["link reads as acme-outbound.example but opens evil.example", "link to unapproved domain: evil.example"]),
    ("https://evil.example\\@acme-outbound.example/",
     ["link reads as acme-outbound.example but opens evil.example", "link contains a backslash: evil.example",
      "link to unapproved domain: evil.example"]),
    ("evil.example/login",
     ["unapproved domain that mail clients turn into a link: evil.example"]),
]


@pytest.mark.parametrize("link, reasons", ATTACKS, ids=["hash-at", "query-at", "backslash-at", "bare-domain"])
def test_an_auto_send_draft_with_a_disguised_link_waits_for_review(link, reasons, tenant, other_tenant):
    tenant.allowed_link_domains = "acme-outbound.example"
    tenant.save(update_fields=["allowed_link_domains"])
    sequence, (first, *_) = running_sequence(tenant, autonomy="auto_send")
    first.body_template = f"Hi {{{{first_name}}}},\n\nOur pricing: {link}"
    first.save(update_fields=["body_template"])
    enrollment = due_enrollment(sequence, first)
    # The outsider allows evil.example and sends a plain link to it in the same sweep:
    # one tenant's allow-list never decides for another.
    other_tenant.allowed_link_domains = "evil.example"
    other_tenant.save(update_fields=["allowed_link_domains"])
    theirs, (their_first, *_) = running_sequence(other_tenant, autonomy="auto_send")
    their_first.body_template = "Hi,\n\nSee https://evil.example/pricing"
    their_first.save(update_fields=["body_template"])
    their_enrollment = due_enrollment(theirs, their_first)

    claimed, _ = sweep_inline()

    assert claimed == 2
    message = OutboundMessage.objects.get(enrollment=enrollment)
    assert link in message.body_text
    assert message.state == "pending_approval"
    assert message.flags == reasons
    approval = ApprovalRequest.objects.get(message=message)
    assert (approval.tenant_id, approval.status, approval.review_reasons) == (tenant.pk, "pending", reasons)
    enrollment.refresh_from_db()
    assert (enrollment.current_step_id, enrollment.waiting_on) == (first.pk, "approval")

    their_message = OutboundMessage.objects.get(enrollment=their_enrollment)
    assert (their_message.state, their_message.flags) == ("queued", [])
    assert not ApprovalRequest.objects.filter(tenant=other_tenant).exists()
