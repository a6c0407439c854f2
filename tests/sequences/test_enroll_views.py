"""The sequence's enrollment table, its bulk and single actions, and the rule form."""
import pytest
from django.urls import reverse

from sequences.models import Activity, Enrollment
from sequences.services.enrollments import enrollment_create
from tests.dates import day_text
from tests.factories import ContactFactory, EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(tenant):
    seq = SequenceFactory(tenant=tenant, status="active", name="Spring outreach")
    StepFactory(sequence=seq, delay_value=1)
    return seq


def _enrolled(tenant, sequence, n=1, **contact):
    return [enrollment_create(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant, **contact),
                              actor=None) for _ in range(n)]


def test_the_table_shows_next_run_in_the_viewers_zone_with_the_contacts_time_and_filters_by_status(
        rep_client, tenant, sequence):
    (active,) = _enrolled(tenant, sequence, timezone="Europe/Berlin", last_name="Active")
    (paused,) = _enrolled(tenant, sequence, last_name="Pausedperson")
    Enrollment.objects.filter(pk=paused.pk).update(status="paused")

    body = rep_client.get(reverse("sequences:enrollments", args=[sequence.pk])).content.decode()
    zone = __import__("zoneinfo").ZoneInfo
    local = active.next_run_at.astimezone(zone("Europe/Berlin"))
    viewer = active.next_run_at.astimezone(zone("America/New_York"))  # the workspace's: the rep chose none
    assert f"{day_text(viewer)}, {viewer:%H:%M} {viewer.tzname()}" in body
    assert f"{local:%H:%M} their time (Berlin, {local.tzname()})" in body
    assert "Step 1" in body
    for enrollment in (active, paused):  # each row opens the enrollment's timeline and next-step answer
        assert f'href="{reverse("sequences:enrollment-detail", args=[enrollment.pk])}"' in body

    partial = rep_client.get(reverse("sequences:enrollments", args=[sequence.pk]), {"status": "paused"},
                             HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="enrollment-table">')
    assert "Pausedperson" in partial and "Active" not in partial.split("</nav>", 1)[1]


def test_bulk_pause_resume_unenroll_from_the_table_ignore_foreign_ids(rep_client, tenant, other_tenant, sequence):
    ours = _enrolled(tenant, sequence, n=2)
    theirs = EnrollmentFactory(tenant=other_tenant, sequence=SequenceFactory(tenant=other_tenant))
    url = reverse("sequences:enrollments-bulk", args=[sequence.pk])
    ids = [e.pk for e in ours] + [theirs.pk]

    response = rep_client.post(url, {"action": "pause", "enrollment_ids": ids}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Paused 2 enrollments." in response.content.decode()
    rep_client.post(url, {"action": "resume", "enrollment_ids": ids})
    rep_client.post(url, {"action": "unenroll", "enrollment_ids": ids})

    assert set(Enrollment.objects.filter(sequence=sequence).values_list("status", flat=True)) == {"unenrolled"}
    theirs.refresh_from_db()
    assert theirs.status == "active"
    assert rep_client.post(url, {"action": "pause"}, HTTP_HX_REQUEST="true").status_code == 422


def test_single_actions_change_one_enrollment_and_refuse_invalid_transitions(rep_client, tenant, sequence):
    (enrollment,) = _enrolled(tenant, sequence)
    here = reverse("sequences:enrollments", args=[sequence.pk])

    response = rep_client.post(reverse("sequences:enrollment-pause", args=[enrollment.pk]), {"next": here},
                               HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="enrollment-table"' in response.content.decode()
    again = rep_client.post(reverse("sequences:enrollment-pause", args=[enrollment.pk]), HTTP_HX_REQUEST="true")
    assert again.status_code == 422
    from_profile = rep_client.post(reverse("sequences:enrollment-resume", args=[enrollment.pk]),
                                   {"from": "contact"}, HTTP_HX_REQUEST="true")
    assert 'id="contact-enrollments"' in from_profile.content.decode()
    plain = rep_client.post(reverse("sequences:enrollment-unenroll", args=[enrollment.pk]), {"next": "https://evil.example/"})
    assert plain.status_code == 302 and plain["Location"] == here

    enrollment.refresh_from_db()
    assert enrollment.status == "unenrolled"
    assert list(Activity.objects.filter(enrollment=enrollment).order_by("id").values_list("kind", flat=True))[-3:] == [
        "paused", "resumed", "exited"]


def test_the_rule_form_saves_rules_and_refuses_enabling_with_none(rep_client, tenant, sequence):
    url = reverse("sequences:entry-rules", args=[sequence.pk])
    empty = rep_client.post(url, {"enabled": "on"}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 422 and "at least one rule" in empty.content.decode()

    rep_client.post(url, {"enabled": "on", "score_band": ["hot", "warm"], "no_reply_days": "14"})
    sequence.refresh_from_db()
    assert sequence.auto_enroll_enabled is True
    assert sequence.entry_rules == {"score_band": ["hot", "warm"], "no_reply_days": 14}


@pytest.mark.parametrize("name,kwarg", [
    ("sequences:enrollments", "sequence_id"), ("sequences:enrollments-bulk", "sequence_id"),
    ("sequences:entry-rules", "sequence_id"), ("sequences:enrollment-pause", "enrollment_id"),
    ("sequences:enrollment-resume", "enrollment_id"), ("sequences:enrollment-unenroll", "enrollment_id"),
])
def test_the_outsider_gets_404_for_every_enrollment_view(outsider_client, tenant, sequence, name, kwarg):
    (enrollment,) = _enrolled(tenant, sequence)
    url = reverse(name, kwargs={kwarg: sequence.pk if kwarg == "sequence_id" else enrollment.pk})
    assert outsider_client.get(url).status_code in (404, 405)
    assert outsider_client.post(url, {"action": "pause", "enrollment_ids": [enrollment.pk]}).status_code == 404
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
