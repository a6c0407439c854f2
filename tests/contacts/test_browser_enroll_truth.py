"""Enrolling tells the truth, driven in Chromium: skips with their reasons on bulk
enrollment, a warning before a second active sequence, and "Enroll all" asks first."""
import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from contacts.models import ListMembership
from sequences.models import Enrollment
from sequences.services.enrollments import enrollment_create
from tests.factories import ContactFactory, ContactListFactory, SequenceFactory, StepFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, client, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def _sequence(tenant, name):
    sequence = SequenceFactory(tenant=tenant, status="active", name=name)
    StepFactory(sequence=sequence, delay_value=1, job_type="initial_outreach")
    return sequence


def test_bulk_enroll_skips_with_reasons_then_keeps_them_when_asked_and_the_profile_warns(
        page, live_server, client, tenant, other_tenant, rep, output_path):
    intro, webinar = _sequence(tenant, "Intro"), _sequence(tenant, "Webinar intro")
    fresh = ContactFactory(tenant=tenant, first_name="Fresh", last_name="Lead", owner=rep)
    ContactFactory(tenant=tenant, first_name="Won", last_name="Deal", lead_status="converted", owner=rep)
    busy = ContactFactory(tenant=tenant, first_name="Busy", last_name="Person", owner=rep)
    enrollment_create(tenant=tenant, sequence=webinar, contact=busy, actor=None)
    ContactFactory(tenant=other_tenant, first_name="Outsider", last_name="Lead")
    _login(page, live_server, client, rep)

    page.goto(f"{live_server.url}/contacts/")
    expect(page.locator("#contact-table")).not_to_contain_text("Outsider")
    for name in ("Fresh", "Won", "Busy"):
        page.get_by_label(re.compile(f"Select {name}")).check()
    page.select_option("#bulk-sequence", label="Intro")
    page.get_by_role("button", name="Enroll in sequence").click()
    result = page.locator(".enroll-result")
    expect(result).to_contain_text("converted lead 1")
    page.screenshot(path=Path(output_path) / "bulk-enroll-skips.png", full_page=True)
    expect(page.locator('[data-count="enrolled"]')).to_have_text("1")
    expect(page.locator('[data-count="skipped"]')).to_have_text("2")
    expect(result).to_contain_text("active in another sequence 1")
    assert list(Enrollment.objects.filter(sequence=intro).values_list("contact_id", flat=True)) == [fresh.pk]

    # The selection survives the swap: keep only Busy.
    for name in ("Fresh", "Won"):
        page.get_by_label(re.compile(f"Select {name}")).uncheck()
    expect(page.get_by_label(re.compile("Select Busy"))).to_be_checked()
    page.select_option("#bulk-sequence", label="Intro")
    page.select_option("#bulk-active-elsewhere", "keep")
    page.get_by_role("button", name="Enroll in sequence").click()
    expect(page.locator('[data-count="skipped"]')).to_have_text("0")
    expect(page.locator('[data-count="enrolled"]')).to_have_text("1")

    # One contact, from the profile: a warning first, and the rep may still confirm.
    other = ContactFactory(tenant=tenant, first_name="Ada", last_name="Lovelace", owner=rep)
    enrollment_create(tenant=tenant, sequence=webinar, contact=other, actor=None)
    page.goto(live_server.url + reverse("contacts:detail", args=[other.pk]))
    page.select_option("#enroll-sequence", label="Intro")
    page.get_by_role("button", name="Enroll", exact=True).click()
    warning = page.locator(".enroll-warning")
    expect(warning).to_contain_text("Ada Lovelace is already active in sequence “Webinar intro”.")
    page.screenshot(path=Path(output_path) / "profile-enroll-warning.png", full_page=True)
    assert not Enrollment.objects.filter(sequence=intro, contact=other).exists()
    page.get_by_role("button", name="Enroll anyway").click()
    expect(page.locator("#contact-enrollments")).to_contain_text("Enrolled in “Intro”.")
    assert Enrollment.objects.filter(sequence=intro, contact=other).exists()


def test_enroll_all_asks_with_the_number_and_does_nothing_when_cancelled(page, live_server, client, tenant, rep,
                                                                           output_path):
    intro = _sequence(tenant, "Intro")
    contact_list = ContactListFactory(tenant=tenant, name="Webinar")
    for i in range(3):
        ListMembership.objects.create(contact_list=contact_list, contact=ContactFactory(tenant=tenant, owner=rep))
    _login(page, live_server, client, rep)
    asked = []

    page.goto(live_server.url + reverse("contacts:list-detail", args=[contact_list.pk]))
    page.select_option("#list-enroll-sequence", label="Intro")
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Enroll All in Sequence").click()
    page.evaluate("0")  # the dialog was answered before the page runs anything else
    assert asked == ["Enroll all 3 members of this list in the chosen sequence?"]
    assert not Enrollment.objects.filter(sequence=intro).exists()

    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Enroll All in Sequence").click()
    expect(page.locator("#list-enroll .enroll-result")).to_contain_text("Enrolled 3, already enrolled 0, skipped 0.")
    page.screenshot(path=Path(output_path) / "list-enroll-all.png", full_page=True)
    assert len(asked) == 2 and Enrollment.objects.filter(sequence=intro).count() == 3
