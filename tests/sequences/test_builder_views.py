"""The sequences page, template gallery and builder: full pages, HTMX partials,
422 on invalid input, rights and the outsider's 404s."""
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scendcore.models import AuditEntry
from sequences.models import Enrollment, Sequence, Step
from sequences.services.versions import draft_of
from tests.factories import AgentFactory, EnrollmentFactory, MailboxFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sequence(tenant):
    sequence = SequenceFactory(tenant=tenant, name="Q3 outbound")
    StepFactory(sequence=sequence, order=1, delay_value=0, job_type="initial_outreach")
    StepFactory(sequence=sequence, order=2, delay_value=3, job_type="follow_up", business_days_only=True,
                window_days=[0, 1, 2, 3, 4], window_start="09:00", window_end="17:00")
    return sequence


def url(name, *args):
    return reverse(f"sequences:{name}", args=args)


def step_post(**overrides):
    data = {"channel": "email", "job_type": "follow_up", "delay_value": "2", "delay_unit": "days",
            "jitter_minutes": "0"}
    data.update(overrides)
    return data


# ---------------------------------------------------------------- list

def test_a_tenant_without_sequences_sees_the_template_gallery(rep_client):
    page = rep_client.get(url("sequence-list")).content.decode()
    assert "Start with a proven cadence" in page
    for name in ("Cold Outreach", "Follow-Up Series", "Re-Engagement", "Meeting Request", "SaaS Trial",
                 "Webinar Promo", "Cold Outreach with breakup"):
        assert f"Use “{name}”" in page


def test_sequence_cards_show_status_steps_and_enrollment_stats(rep_client, sequence, tenant):
    for status in ("active", "active", "completed", "paused", "exited", "unenrolled"):
        EnrollmentFactory(tenant=tenant, sequence=sequence, status=status)

    response = rep_client.get(url("sequence-list"))

    page = response.content.decode()
    assert "Q3 outbound" in page and "badge-draft" in page and "2 steps" in page
    stats = response.context["cards"][0].stats
    assert stats == {"active": 2, "completed": 1, "paused": 1, "exited": 1, "unenrolled": 1}
    assert "Templates" in page  # the gallery stays one click away


def test_the_list_costs_the_same_queries_for_3_or_30_sequences(rep_client, tenant):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert rep_client.get(url("sequence-list")).status_code == 200
        return len(queries)

    for _ in range(3):
        EnrollmentFactory(sequence=StepFactory(sequence=SequenceFactory(tenant=tenant)).sequence, tenant=tenant)
    few = count()
    for _ in range(27):
        EnrollmentFactory(sequence=StepFactory(sequence=SequenceFactory(tenant=tenant)).sequence, tenant=tenant)
    assert count() == few


def test_the_list_filters_by_status_and_searches_by_name(rep_client, tenant):
    SequenceFactory(tenant=tenant, name="Webinar June", status="active")
    SequenceFactory(tenant=tenant, name="Webinar May", status="archived")
    SequenceFactory(tenant=tenant, name="Cold CFOs", status="active")

    names = lambda r: [c.name for c in r.context["cards"]]  # noqa: E731
    assert names(rep_client.get(url("sequence-list"), {"q": "webinar"})) == ["Webinar June", "Webinar May"]
    assert names(rep_client.get(url("sequence-list"), {"status": "active"})) == ["Cold CFOs", "Webinar June"]


def test_an_htmx_search_returns_only_the_cards(rep_client, sequence):
    response = rep_client.get(url("sequence-list"), {"q": "Q3"}, **HX)
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="sequence-cards">')
    assert "<html" not in page and "Q3 outbound" in page


def test_other_tenants_sequences_are_never_listed(outsider_client, sequence):
    page = outsider_client.get(url("sequence-list")).content.decode()
    assert "Q3 outbound" not in page


# ---------------------------------------------------------------- creation

def test_creating_from_a_template_opens_the_builder(rep_client, tenant):
    response = rep_client.post(url("sequence-templates"), {"key": "cold_outreach"})

    sequence = Sequence.objects.get(tenant=tenant)
    assert response.status_code == 302 and response["Location"] == url("sequence-detail", sequence.pk)
    assert sequence.steps.count() == 3


def test_an_unknown_template_is_refused(rep_client, tenant):
    assert rep_client.post(url("sequence-templates"), {"key": "nope"}).status_code == 422
    assert not Sequence.objects.filter(tenant=tenant).exists()


def test_create_sequence_needs_a_name(rep_client, tenant):
    response = rep_client.post(url("sequence-create"), {"name": "", "description": "x"})
    assert response.status_code == 422
    assert not Sequence.objects.filter(tenant=tenant).exists()
    response = rep_client.post(url("sequence-create"), {"name": "Founders", "description": ""})
    assert response.status_code == 302


# ---------------------------------------------------------------- builder

def test_the_builder_shows_the_schedule_in_plain_words(rep_client, sequence):
    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()

    assert "Day 0" in page and "at enrollment" in page and "Initial outreach by email" in page
    assert "Day 3" in page
    assert "+3 days, weekdays only, 9:00–17:00 recipient time" in page and "Follow-up email" in page
    assert f'href="/sequences/{sequence.pk}/enrollments/"' in page


def test_adding_a_step_with_htmx_returns_only_the_timeline(rep_client, sequence):
    response = rep_client.post(url("step-add", sequence.pk), step_post(), **HX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page and 'id="sequence-timeline"' in page
    assert 'id="sequence-header" class="card seq-header" hx-swap-oob="true"' in page
    assert "Step 3 added" in page
    assert sequence.steps.count() == 3


def test_adding_a_step_without_javascript_redirects_back(rep_client, sequence):
    response = rep_client.post(url("step-add", sequence.pk), step_post(delay_value="5"))
    step = sequence.steps.get(order=3)
    assert response.status_code == 302 and response["Location"].endswith(f"#step-{step.pk}")


@pytest.mark.parametrize("data, message", [
    (step_post(delay_value="366"), "more than a year"),
    (step_post(delay_value="-1"), "can&#x27;t be negative"),
    (step_post(use_window="on", window_days=["0"], window_start="17:00", window_end="09:00"), "end after it starts"),
    (step_post(use_window="on", window_start="09:00", window_end="17:00"), "Pick at least one day"),
    (step_post(subject_template="Hi {{nickname}}"), "Unknown merge field {{nickname}}"),
])
def test_invalid_step_input_is_shown_inline_with_422_and_keeps_what_was_typed(rep_client, sequence, data, message):
    data["angle"] = "Mention their hiring spree"

    response = rep_client.post(url("step-add", sequence.pk), data, **HX)

    page = response.content.decode()
    assert response.status_code == 422
    assert message in page
    assert "Mention their hiring spree" in page  # nothing typed is lost
    assert sequence.steps.count() == 2


def test_a_200000_character_body_template_is_refused_inline_with_422(rep_client, sequence):
    response = rep_client.post(url("step-add", sequence.pk), step_post(body_template="x" * 200_000), **HX)

    page = response.content.decode()
    assert response.status_code == 422
    assert "The body template is at most 10,000 characters" in page
    assert 'maxlength="10000"' in page  # the browser stops typing there too
    assert sequence.steps.count() == 2


def test_editing_a_step_inline(rep_client, sequence):
    step = sequence.steps.get(order=2)

    form = rep_client.get(url("step-edit", sequence.pk, step.pk), **HX).content.decode()
    assert "Edit step 2" in form and "<html" not in form

    response = rep_client.post(url("step-edit", sequence.pk, step.pk),
                               step_post(delay_value="4", cta="Offer two slots"), **HX)
    assert response.status_code == 200
    step.refresh_from_db()
    assert (step.delay_value, step.cta, step.window_days) == (4, "Offer two slots", None)
    assert AuditEntry.objects.filter(object_id=str(sequence.pk), action="step_updated").exists()


def test_an_invalid_edit_answers_422_and_keeps_the_saved_step(rep_client, sequence):
    step = sequence.steps.get(order=2)
    response = rep_client.post(url("step-edit", sequence.pk, step.pk), step_post(delay_value="-1"), **HX)
    assert response.status_code == 422 and "Edit step 2" in response.content.decode()
    step.refresh_from_db()
    assert step.delay_value == 3


def test_moving_a_step_up_works_as_a_plain_post(rep_client, sequence):
    third = StepFactory(sequence=sequence, order=3, delay_value=2)

    response = rep_client.post(url("step-move", sequence.pk, third.pk), {"direction": "up"})

    assert response.status_code == 302
    assert list(sequence.steps.order_by("order").values_list("pk", flat=True))[1] == third.pk


def test_a_move_in_a_sequence_with_enrollments_goes_to_the_draft_and_moves_nobody(rep_client, sequence, tenant):
    second = sequence.steps.get(order=2)
    third = StepFactory(sequence=sequence, order=3, delay_value=2)
    waiting = [EnrollmentFactory(tenant=tenant, sequence=sequence, current_step=second) for _ in range(3)]

    response = rep_client.post(url("step-move", sequence.pk, third.pk), {"direction": "up"}, **HX)

    assert response.status_code == 200
    draft = draft_of(sequence)
    assert Step.objects.get(version=draft, key=third.key).order == 2
    assert sequence.steps.get(pk=third.pk).order == 3  # the published version is unchanged
    assert all(Enrollment.objects.get(pk=e.pk).current_step_id == second.pk for e in waiting)
    assert "Editing draft v2" in response.content.decode()


def test_the_delete_confirmation_says_the_contacts_in_flight_keep_their_path(rep_client, sequence, tenant):
    second = sequence.steps.get(order=2)
    for _ in range(3):
        EnrollmentFactory(tenant=tenant, sequence=sequence, current_step=second)

    page = rep_client.get(url("step-delete", sequence.pk, second.pk), **HX).content.decode()

    assert "Delete step 2?" in page and "the 3 contacts in flight keep their path until you publish it" in page
    rep_client.post(url("step-delete", sequence.pk, second.pk), **HX)
    assert Step.objects.filter(pk=second.pk).exists()
    assert not Step.objects.filter(version=draft_of(sequence), key=second.key).exists()


def test_activation_refused_lists_the_problems_with_422(rep_client, tenant):
    sequence = SequenceFactory(tenant=tenant, agent=None, sender_profile=None)

    response = rep_client.post(url("sequence-activate", sequence.pk), **HX)

    page = response.content.decode()
    assert response.status_code == 422
    assert "Add at least one step" in page and "Choose the agent" in page
    assert Sequence.objects.get(pk=sequence.pk).status == "draft"


def test_activate_then_pause_from_the_builder(rep_client, sequence):
    assert rep_client.post(url("sequence-activate", sequence.pk)).status_code == 302
    assert Sequence.objects.get(pk=sequence.pk).status == "active"
    response = rep_client.post(url("sequence-pause", sequence.pk), **HX)
    assert response.status_code == 200 and "Resume" in response.content.decode()


def test_settings_save_with_htmx_and_the_default_conflict_is_explained(rep_client, sequence, tenant):
    SequenceFactory(tenant=tenant, name="House cadence", is_default=True)
    agent = AgentFactory(tenant=tenant)
    data = {"name": "Q3 outbound", "agent": agent.pk, "sender_profile": sequence.sender_profile_id,
            "reenroll_policy": "after_days", "reenroll_after_days": "30", "rejection_policy": "pause",
            "stop_on_reply": "on"}

    ok = rep_client.post(url("sequence-settings", sequence.pk), data, **HX)
    assert ok.status_code == 200 and "Settings saved" in ok.content.decode()
    sequence.refresh_from_db()
    assert (sequence.agent, sequence.rejection_policy, sequence.stop_on_meeting) == (agent, "pause", False)

    clash = rep_client.post(url("sequence-settings", sequence.pk), {**data, "is_default": "on"}, **HX)
    assert clash.status_code == 422
    assert "“House cadence” is already the default sequence" in clash.content.decode()


def test_settings_only_offer_this_tenants_mailboxes(rep_client, sequence, other_tenant):
    foreign = MailboxFactory(tenant=other_tenant, from_email="spy@else.example")
    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()
    assert "spy@else.example" not in page
    data = {"name": "Q3", "sender_profile": foreign.pk, "reenroll_policy": "never", "rejection_policy": "pause"}
    assert rep_client.post(url("sequence-settings", sequence.pk), data).status_code == 422


def test_the_timeline_of_50_steps_renders_in_a_fixed_number_of_queries(
    rep_client, tenant, django_assert_max_num_queries
):
    sequence = SequenceFactory(tenant=tenant)
    Step.objects.bulk_create(
        Step(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key=f"step-{n}", order=n,
             delay_value=0 if n == 1 else 1) for n in range(1, 51)
    )
    with django_assert_max_num_queries(12):
        response = rep_client.get(url("sequence-detail", sequence.pk))
    assert response.content.decode().count('class="seq-step') == 50
    with django_assert_max_num_queries(10):
        rep_client.get(url("step-edit", sequence.pk, sequence.steps.get(order=25).pk), **HX)


# ---------------------------------------------------------------- rights

def test_reps_may_build_and_duplicate_but_only_managers_archive(rep_client, sequence):
    assert rep_client.post(url("step-add", sequence.pk), step_post()).status_code == 302
    assert rep_client.post(url("sequence-duplicate", sequence.pk)).status_code == 302
    assert rep_client.post(url("sequence-archive", sequence.pk)).status_code == 403
    assert Sequence.objects.get(pk=sequence.pk).status == "draft"


def test_a_manager_archives_and_the_builder_becomes_read_only(manager_client, sequence):
    assert manager_client.post(url("sequence-archive", sequence.pk)).status_code == 302

    page = manager_client.get(url("sequence-detail", sequence.pk)).content.decode()
    assert "read-only" in page and "+ Add a step" not in page
    response = manager_client.post(url("step-add", sequence.pk), step_post(), **HX)
    assert response.status_code == 422 and "archived" in response.content.decode()


def _outsider_requests(sequence):
    step = sequence.steps.get(order=2)
    get_urls = [url("sequence-detail", sequence.pk), url("step-edit", sequence.pk, step.pk),
                url("step-delete", sequence.pk, step.pk), url("sequence-settings", sequence.pk)]
    post_urls = get_urls + [url(name, sequence.pk) for name in (
        "sequence-activate", "sequence-pause", "sequence-resume", "sequence-archive", "sequence-duplicate",
        "step-add")] + [url("step-move", sequence.pk, step.pk)]
    return get_urls, post_urls


def test_outsider_gets_404_for_every_sequence_and_step_url(outsider_client, sequence):
    get_urls, post_urls = _outsider_requests(sequence)
    for target in get_urls:
        assert outsider_client.get(target).status_code == 404, target
    for target in post_urls:
        assert outsider_client.post(target, step_post(direction="up", key="x")).status_code == 404, target
    assert Sequence.objects.filter(tenant=sequence.tenant).count() == 1
    assert sequence.steps.count() == 2 and Sequence.objects.get(pk=sequence.pk).status == "draft"


def test_a_step_of_another_sequence_is_404_under_this_one(rep_client, sequence, tenant):
    elsewhere = StepFactory(sequence=SequenceFactory(tenant=tenant), order=1)
    assert rep_client.get(url("step-edit", sequence.pk, elsewhere.pk)).status_code == 404


def test_the_settings_panel_opens_on_the_sequences_current_settings(rep_client, sequence, tenant, other_tenant):
    agent = AgentFactory(tenant=tenant, name="Closer")
    Sequence.objects.filter(pk=sequence.pk).update(
        name="Q4 push", agent=agent, reenroll_policy="after_days", reenroll_after_days=45, rejection_policy="pause",
        approval_expiry_hours=12, stop_on_reply=False,
    )
    AgentFactory(tenant=other_tenant, name="Outsider agent")

    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()

    assert 'value="Q4 push"' in page
    assert f'<option value="{agent.pk}" selected>Closer</option>' in page
    assert '<option value="after_days" selected>' in page and '<option value="pause" selected>' in page
    assert 'name="reenroll_after_days" value="45"' in page and 'name="approval_expiry_hours" value="12"' in page
    assert "Outsider agent" not in page


def field(html, field_id):
    """The rendered tag of the form field with this id (a page holds several step forms)."""
    match = re.search(rf'<select[^>]*id="{field_id}"[^>]*>.*?</select>|<input[^>]*id="{field_id}"[^>]*>', html, re.S)
    assert match, field_id
    return match.group(0)


def test_step_forms_open_on_the_steps_values_and_suggest_office_hours_when_it_has_no_window(rep_client, sequence):
    windowed = sequence.steps.get(order=2)
    plain = StepFactory(sequence=sequence, order=3, delay_value=5, delay_unit="hours", cta="Ask for a demo")

    windowed_form = rep_client.get(url("step-edit", sequence.pk, windowed.pk), **HX).content.decode()
    plain_form = rep_client.get(url("step-edit", sequence.pk, plain.pk), **HX).content.decode()
    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()

    w, p = f"s{windowed.pk}_", f"s{plain.pk}_"
    assert "checked" in field(windowed_form, w + "use_window")
    assert "checked" in field(windowed_form, w + "business_days_only")
    assert 'value="5"' in field(plain_form, p + "delay_value")
    assert '<option value="hours" selected>' in field(plain_form, p + "delay_unit")
    assert 'value="Ask for a demo"' in field(plain_form, p + "cta")
    assert "checked" not in field(plain_form, p + "use_window")
    assert 'value="09:00"' in field(plain_form, p + "window_start")
    # The add form at the end of the timeline: a follow-up email three days later.
    assert '<option value="follow_up" selected>' in field(page, "new_job_type")
    assert 'value="3"' in field(page, "new_delay_value")


def test_the_timeline_says_when_the_frequency_cap_will_stretch_it(rep_client, tenant):
    tenant.frequency_cap_messages, tenant.frequency_cap_hours = 1, 48
    tenant.save()
    tight = SequenceFactory(tenant=tenant, name="Tight")
    StepFactory(sequence=tight, order=1, delay_value=0)
    StepFactory(sequence=tight, order=2, delay_value=4, delay_unit="minutes", job_type="follow_up")
    StepFactory(sequence=tight, order=3, delay_value=1, delay_unit="days", channel="task")
    roomy = SequenceFactory(tenant=tenant, name="Roomy")
    StepFactory(sequence=roomy, order=1, delay_value=0)
    StepFactory(sequence=roomy, order=2, delay_value=1, delay_unit="days", channel="call_reminder")
    StepFactory(sequence=roomy, order=3, delay_value=2, delay_unit="days", job_type="follow_up")

    page = rep_client.get(url("sequence-detail", tight.pk)).content.decode()
    assert 'class="cap-note' in page
    assert ("The frequency cap (1 message per 48 h to a contact, across all sequences) may stretch this timeline: "
            "step 2 is planned 4 minutes after step 1 and cannot go until 48 h after it.") in page
    assert 'class="cap-note' not in rep_client.get(url("sequence-detail", roomy.pk)).content.decode()

    tenant.frequency_cap_messages = 2
    tenant.save()
    assert 'class="cap-note' not in rep_client.get(url("sequence-detail", tight.pk)).content.decode()


# ---------------------------------------------------------------- what the builder says

def test_the_first_step_of_a_new_sequence_defaults_to_a_first_touch_email_at_enrollment(rep_client, tenant):
    sequence = SequenceFactory(tenant=tenant)

    form = rep_client.get(url("sequence-detail", sequence.pk)).context["add_form"]

    assert (form["channel"].value(), form["job_type"].value(), form["delay_value"].value()) == (
        "email", "initial_outreach", 0)


def test_later_steps_default_to_a_follow_up_email_after_3_days(rep_client, sequence):
    form = rep_client.get(url("sequence-detail", sequence.pk)).context["add_form"]

    assert (form["job_type"].value(), form["delay_value"].value(), form["delay_unit"].value()) == (
        "follow_up", 3, "days")


def test_the_reply_and_meeting_settings_say_what_they_do_pause_the_enrollment(rep_client, sequence):
    form = rep_client.get(url("sequence-detail", sequence.pk)).context["settings_form"]

    for name, event in (("stop_on_reply", "reply"), ("stop_on_meeting", "meeting")):
        field = form.fields[name]
        assert field.label == f"Pause on {event}"
        assert field.help_text.startswith("Ticked: ") and "pauses" in field.help_text
        assert "Unticked: " in field.help_text


def _status_banners(page):
    return re.findall(r'id="sequence-status"[^>]*>(.*?)</', page, re.S)


def test_a_paused_sequence_shows_one_truthful_status_banner(rep_client, sequence):
    rep_client.post(url("sequence-activate", sequence.pk))
    running = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()
    assert len(_status_banners(running)) == 1 and "Running" in _status_banners(running)[0]

    swapped = rep_client.post(url("sequence-pause", sequence.pk), **HX).content.decode()
    assert swapped.count("Paused:") == 1 and "running" not in swapped.lower()

    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()
    assert page.count("Paused:") == 1 and "running" not in page.lower()
    assert len(_status_banners(page)) == 1 and "Paused:" in _status_banners(page)[0]


def test_pausing_without_javascript_also_shows_the_paused_banner_once(rep_client, sequence):
    rep_client.post(url("sequence-activate", sequence.pk))

    page = rep_client.post(url("sequence-pause", sequence.pk), follow=True).content.decode()

    assert page.count("Paused:") == 1 and "running" not in page.lower()
