"""A member's own time zone: every time on a page follows it; bad input is a 422."""
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse, reverse_lazy
from django.utils import timezone

from scendcore.models import AuditEntry, Membership, Role
from tests.factories import ContactFactory, EnrollmentFactory, MembershipFactory, SequenceFactory

pytestmark = pytest.mark.django_db
MINE = reverse_lazy("my-settings")


def _clock(moment, zone):
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} {local.tzname()}"


@pytest.fixture
def enrollment(tenant):
    sequence = SequenceFactory(tenant=tenant)
    return EnrollmentFactory(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant),
                             enrolled_at=timezone.now())


def _detail(client, enrollment):
    url = reverse("sequences:enrollment-detail", kwargs={"enrollment_id": enrollment.pk})
    return client.get(url).content.decode()


def test_a_page_shows_times_in_the_workspace_zone_until_the_user_picks_their_own(rep_client, rep, tenant, enrollment):
    page = _detail(rep_client, enrollment)
    assert _clock(enrollment.enrolled_at, "America/New_York") in page  # tenant's zone by default

    response = rep_client.post(MINE, {"timezone": "Asia/Tokyo"})
    assert response.status_code == 302
    assert Membership.objects.get(user=rep, tenant=tenant).timezone == "Asia/Tokyo"

    page = _detail(rep_client, enrollment)
    assert _clock(enrollment.enrolled_at, "Asia/Tokyo") in page
    assert _clock(enrollment.enrolled_at, "America/New_York") not in page
    entry = AuditEntry.objects.get(tenant=tenant, object_type="membership")
    assert entry.actor == rep and entry.changes == {"timezone": ["", "Asia/Tokyo"]}


def test_the_settings_page_is_in_the_navigation_and_offers_the_workspace_default(rep_client):
    response = rep_client.get(reverse("dashboard"))
    assert f'href="{MINE}"' in response.content.decode()
    page = rep_client.get(MINE).content.decode()
    assert "The workspace&#x27;s (New York, EST)" in page or "The workspace&#x27;s (New York, EDT)" in page


def test_an_unknown_zone_is_a_422_with_the_error_beside_the_field(rep_client, rep, tenant):
    response = rep_client.post(MINE, {"timezone": "Mars/Olympus_Mons"})

    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_timezone_errors"' in page and "Select a valid choice" in page
    assert Membership.objects.get(user=rep, tenant=tenant).timezone == ""


def test_htmx_gets_the_form_alone_back_on_bad_input(rep_client):
    response = rep_client.post(MINE, {"timezone": "\x00"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="my-settings-form"' in page and "<header" not in page


def test_choosing_the_workspace_default_again_follows_the_workspace(rep_client, rep, tenant, enrollment):
    rep_client.post(MINE, {"timezone": "Asia/Tokyo"})
    rep_client.post(MINE, {"timezone": ""})
    assert Membership.objects.get(user=rep, tenant=tenant).timezone == ""
    assert _clock(enrollment.enrolled_at, "America/New_York") in _detail(rep_client, enrollment)


def test_the_setting_belongs_to_one_workspace_and_an_outsider_changes_nobody_else(
        client, rep, tenant, other_tenant, outsider, enrollment):
    MembershipFactory(user=rep, tenant=other_tenant, role=Role.REP)
    client.force_login(outsider)
    assert client.post(MINE, {"timezone": "Asia/Tokyo", "membership": Membership.objects.get(
        user=rep, tenant=tenant).pk}).status_code == 302
    assert Membership.objects.get(user=outsider, tenant=other_tenant).timezone == "Asia/Tokyo"
    assert set(Membership.objects.filter(user=rep).values_list("timezone", flat=True)) == {""}
    assert client.get(reverse("sequences:enrollment-detail", kwargs={"enrollment_id": enrollment.pk})).status_code == 404

    client.force_login(rep)  # the rep's current workspace is ours (Acme sorts first)
    client.post(MINE, {"timezone": "Europe/Berlin"})
    assert Membership.objects.get(user=rep, tenant=tenant).timezone == "Europe/Berlin"
    assert Membership.objects.get(user=rep, tenant=other_tenant).timezone == ""
