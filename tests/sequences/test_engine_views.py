"""The enrollment detail page: timeline, messages and the next-step answer."""
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from approvals.models import ApprovalRequest
from scendcore.models import Membership
from messaging.models import OutboundMessage
from sequences.engine.explain import enrollment_explain
from tests.dates import day_text

from .engine_helpers import due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


def detail_url(enrollment):
    return reverse("sequences:enrollment-detail", kwargs={"enrollment_id": enrollment.pk})


@pytest.fixture
def executed(tenant):
    """An enrollment whose first step went out and whose second is scheduled."""
    sequence, (first, second, _) = running_sequence(tenant)
    second.window_days, second.window_start, second.window_end = [0, 1, 2, 3, 4], time(9), time(17)
    second.save()
    now = timezone.now()
    enrollment = due_enrollment(sequence, first, at=now)
    sweep_inline(now=now)
    enrollment.refresh_from_db()
    return enrollment


def test_the_detail_shows_the_timeline_the_message_and_when_the_next_step_goes(rep_client, executed):
    response = rep_client.get(detail_url(executed))

    assert response.status_code == 200
    page = response.content.decode()
    message = OutboundMessage.objects.get(enrollment=executed)
    assert "Step executed" in page and "Step scheduled" in page
    assert message.subject and escape(message.subject) in page
    assert "Step 2 (Email) goes" in page
    assert "their time (New York, " in page
    assert "America/New_York" not in page and " UTC" not in page
    assert "Send window: Mon–Fri 09:00–17:00" in page
    assert "Frequency cap: at most 1 message per 48 h" in page


def test_the_next_step_reads_in_the_viewers_zone_with_the_contacts_time_beside_it(rep_client, rep, executed):
    Membership.objects.filter(user=rep, tenant=executed.tenant).update(timezone="Europe/Berlin")
    viewer = executed.next_run_at.astimezone(ZoneInfo("Europe/Berlin"))
    theirs = executed.next_run_at.astimezone(ZoneInfo("America/New_York"))

    page = rep_client.get(detail_url(executed), HTTP_HX_REQUEST="true").content.decode()

    scheduled = page[page.index('id="enrollment-next-at"'):]
    scheduled = scheduled[:scheduled.index("</p>")]
    assert f"{day_text(viewer)}, {viewer:%H:%M} {viewer.tzname()}" in scheduled
    assert f"{theirs:%H:%M} their time (New York, {theirs.tzname()})" in scheduled
    assert escape(f"in the contact's time (New York, {theirs.tzname()})") in page


def test_the_next_step_region_alone_is_served_to_htmx(rep_client, executed):
    response = rep_client.get(detail_url(executed), HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="enrollment-next"' in page
    assert "Timeline" not in page


def test_outsider_gets_404_for_an_enrollment_of_another_tenant(outsider_client, executed):
    assert outsider_client.get(detail_url(executed)).status_code == 404
    assert outsider_client.post(detail_url(executed)).status_code == 404


def test_what_a_contact_typed_is_escaped_on_the_page(rep_client, executed):
    contact = executed.contact
    contact.first_name = "<script>alert(1)</script>"
    contact.save()

    page = rep_client.get(detail_url(executed)).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_the_answer_names_a_reached_frequency_cap_as_what_holds_the_step(tenant, executed):
    executed.next_run_at = timezone.now() + timedelta(hours=1)

    explanation = enrollment_explain(tenant=tenant, enrollment=executed)

    cap = [h for h in explanation.holds if h.kind == "frequency_cap"]
    assert cap and cap[0].active and "the cap is reached" in cap[0].text


def test_the_answer_for_a_draft_waiting_for_review_names_the_approval(tenant):
    sequence, (first, *_) = running_sequence(tenant, autonomy="review_all")
    now = timezone.now()
    enrollment = due_enrollment(sequence, first, at=now)
    sweep_inline(now=now)
    enrollment.refresh_from_db()
    assert ApprovalRequest.objects.filter(enrollment=enrollment).exists()

    explanation = enrollment_explain(tenant=tenant, enrollment=enrollment)

    assert explanation.answer.startswith("Waiting for approval")
    assert any(h.kind == "approval" and h.active and "review every draft" in h.text for h in explanation.holds)


def test_the_answer_for_a_paused_sequence_says_nothing_goes_until_it_resumes(tenant):
    sequence, (first, *_) = running_sequence(tenant, status="paused")
    enrollment = due_enrollment(sequence, first, at=timezone.now() + timedelta(days=1))

    explanation = enrollment_explain(tenant=tenant, enrollment=enrollment)

    assert [h.kind for h in explanation.active_holds] == ["sequence"]


def test_a_rep_raises_an_enrollments_priority_and_it_is_audited(rep_client, tenant):
    from django.urls import reverse

    from scendcore.models import AuditEntry
    from tests.factories import EnrollmentFactory, SequenceFactory

    enrollment = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant))

    response = rep_client.post(reverse("sequences:enrollment-priority", args=[enrollment.pk]), {"priority": "3"})

    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.priority == 3
    assert AuditEntry.objects.filter(tenant=tenant, object_type="enrollment", action="priority_changed").exists()


def test_an_unknown_priority_is_refused_with_422_and_changes_nothing(rep_client, tenant):
    from django.urls import reverse

    from tests.factories import EnrollmentFactory, SequenceFactory

    enrollment = EnrollmentFactory(tenant=tenant, sequence=SequenceFactory(tenant=tenant))

    response = rep_client.post(reverse("sequences:enrollment-priority", args=[enrollment.pk]), {"priority": "9"})

    assert response.status_code == 422
    assert "Choose low, normal, high or critical" in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.priority == 1


def test_a_step_the_frequency_cap_deferred_names_the_message_filling_the_window_and_when_it_frees(tenant):
    from sequences.engine.gates.wording import local
    from sequences.scheduling import contact_zone

    tenant.frequency_cap_messages, tenant.frequency_cap_hours = 1, 48
    tenant.save()
    sequence, (first, second) = running_sequence(tenant, steps=2)
    first.subject_template = "Intro"
    first.save()
    second.delay_value, second.delay_unit = 1, "minutes"
    second.save()
    now = timezone.now()
    enrollment = due_enrollment(sequence, first, at=now)
    sweep_inline(now=now)
    OutboundMessage.objects.filter(enrollment=enrollment, step=first).update(state="sent", sent_at=now)
    later = now + timedelta(minutes=2)
    sweep_inline(now=later)  # the follow-up is due, and the cap holds it
    enrollment.refresh_from_db()
    intro = OutboundMessage.objects.get(enrollment=enrollment, step=first)
    assert enrollment.current_step == second and enrollment.next_run_at >= intro.created_at + timedelta(hours=48)

    explanation = enrollment_explain(tenant=tenant, enrollment=enrollment, now=later)

    cap = [h for h in explanation.holds if h.kind == "frequency_cap"]
    zone = contact_zone(enrollment.contact, tenant)
    assert cap and cap[0].active, explanation.holds
    assert "in the window now" not in cap[0].text
    assert f"“{intro.subject}” was sent {local(intro.sent_at, zone)}" in cap[0].text
    assert f"the window frees at {local(intro.created_at + timedelta(hours=48), zone)}" in cap[0].text
    assert "(1 per 48 h" in cap[0].text
