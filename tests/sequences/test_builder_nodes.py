"""The builder's outline: add, edit and delete each node type through real POSTs, what
each form stores in the shared formats, 422 with inline errors, the outsider's 404s and
pickers that list only the tenant's own tags, lists and sequences."""
import pytest
from django import forms as django_forms
from django.urls import reverse
from django.utils.html import escape

from contacts.models import ContactList, Tag
from scendcore.models import AuditEntry
from sequences.engine.validation import flow_problems
from sequences.models import Step
from sequences.services.nodes import node_add, node_delete
from sequences.views.nodes import forms_for
from tests.factories import EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def sequence(tenant):
    sequence = SequenceFactory(tenant=tenant, name="Fast track")
    StepFactory(sequence=sequence, key="intro", title="Intro", order=1, delay_value=0, job_type="initial_outreach")
    StepFactory(sequence=sequence, key="case-study", title="Case study", order=2, delay_value=0,
                job_type="follow_up")
    return sequence


def url(name, *args):
    return reverse(f"sequences:{name}", args=args)


def nodes(sequence):
    return list(Step.objects.filter(version_id=sequence.current_version_id).order_by("order"))


def node(sequence, kind):
    return Step.objects.get(version_id=sequence.current_version_id, kind=kind)


def add(client, seq, kind, after="intro", headers=None, **data):
    return client.post(url("node-add", seq.pk), {"type": kind, "after": after, **data}, **(headers or {}))


def test_a_wait_for_a_click_is_stored_with_its_event_timeout_and_paths(rep_client, sequence):
    response = add(rep_client, sequence, "wait", node_name="Wait for the demo click", mode="event",
                   event_kind="clicked", link_contains="book-demo", relative_to="intro", timeout_value="3",
                   timeout_unit="days", event_to="case-study", timeout_to="__end__")
    assert response.status_code == 302
    wait = node(sequence, "wait")
    assert [n.key for n in nodes(sequence)] == ["intro", wait.key, "case-study"]
    assert wait.title == "Wait for the demo click"
    assert wait.config == {"mode": "event", "event": {"kind": "clicked", "link_contains": "book-demo",
                                                      "relative_to": "intro"},
                           "timeout": {"value": 3, "unit": "days"}}
    assert wait.edges == [{"label": "timeout", "to": None}, {"label": "event", "to": "case-study"}]


def test_a_wait_until_monday_9_and_a_duration_wait(rep_client, sequence):
    add(rep_client, sequence, "wait", mode="until", weekdays=["0"], time="09:00")
    add(rep_client, sequence, "wait", after="case-study", mode="duration", delay_value="3", delay_unit="days",
        business_days_only="on")
    until, duration = Step.objects.filter(version_id=sequence.current_version_id, kind="wait").order_by("order")
    assert until.config == {"mode": "until", "weekdays": [0], "time": "09:00"}
    assert (duration.config, duration.delay_value, duration.delay_unit, duration.business_days_only) == (
        {"mode": "duration"}, 3, "days", True)
    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()
    assert "Wait until Mon 09:00" in page and "Wait 3 business days" in page


def test_a_branch_stores_its_ordered_rules_and_default_and_the_outline_says_them(rep_client, sequence, tenant):
    vip = Tag.objects.create(tenant=tenant, name="VIP")
    response = add(rep_client, sequence, "branch", node_name="Clicked demo?",
                   r1_label="Clicked demo", r1_to="case-study", r1c1_kind="clicked", r1c1_node="intro",
                   r1c1_within_days="3", r1c1_link_contains="book-demo",
                   r2_label="VIP or hot", r2_join="any", r2_to="__end__", r2c1_kind="tag", r2c1_tag=str(vip.pk),
                   r2c1_has="yes", r2c2_kind="score_band", r2c2_bands=["hot"],
                   default_to="case-study", headers=HX)
    assert response.status_code == 200 and "Step 2 added." in response.content.decode()
    branch = node(sequence, "branch")
    assert branch.edges == [
        {"label": "Clicked demo", "to": "case-study", "condition": {
            "kind": "clicked", "node": "intro", "within_days": 3, "link_contains": "book-demo"}},
        {"label": "VIP or hot", "to": None, "condition": {"any": [
            {"kind": "tag", "tag": vip.pk, "has": True}, {"kind": "score_band", "in": ["hot"]}]}},
        {"label": "default", "to": "case-study"},
    ]
    page = response.content.decode()
    assert "If clicked &#x27;book-demo&#x27; within 3 days → Case study" in page
    assert "If has the tag VIP or score band is hot → End" in page and "Otherwise → Case study" in page


def test_a_branch_without_a_default_shows_the_flows_problems_on_its_node(rep_client, sequence, tenant):
    add(rep_client, sequence, "branch", r1_label="Replied", r1_to="case-study", r1c1_kind="replied",
        r1c1_node="intro")
    branch = node(sequence, "branch")
    assert [e["label"] for e in branch.edges] == ["Replied"]
    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()
    item = page.split(f'id="step-{branch.pk}"')[1].split('class="row add-after"')[0]
    problems = flow_problems(nodes(sequence), tenant=tenant)[branch.key]
    assert problems and all(escape(m) in item for messages in problems.values() for m in messages)


def test_a_split_stores_weighted_arms_and_a_holdout(rep_client, sequence):
    add(rep_client, sequence, "split", a1_label="A", a1_weight="45", a1_to="case-study", a2_label="B",
        a2_weight="45", a2_to="__end__", holdout="on", holdout_weight="10")
    assert node(sequence, "split").edges == [
        {"label": "A", "weight": 45, "to": "case-study"}, {"label": "B", "weight": 45, "to": None},
        {"label": "holdout", "weight": 10, "holdout": True}]


@pytest.mark.parametrize("data, config", [
    ({"action": "set_field", "field": "industry", "value": "SaaS"},
     {"action": "set_field", "field": "industry", "value": "SaaS"}),
    ({"action": "set_lead_status", "status": "qualified"}, {"action": "set_lead_status", "status": "qualified"}),
    ({"action": "notify_owner", "message": "Hot lead"}, {"action": "notify_owner", "message": "Hot lead"}),
    ({"action": "set_context", "key": "track", "value": "fast"},
     {"action": "set_context", "key": "track", "value": "fast"}),
    ({"action": "exit", "reason": "Not a fit"}, {"action": "exit", "reason": "Not a fit"}),
])
def test_an_action_stores_its_kind_and_target(rep_client, sequence, data, config):
    assert add(rep_client, sequence, "action", **data).status_code == 302
    assert node(sequence, "action").config == config


def test_actions_on_tags_lists_and_sequences_store_the_tenants_ids(rep_client, sequence, tenant):
    tag = Tag.objects.create(tenant=tenant, name="High Intent")
    warm = ContactList.objects.create(tenant=tenant, name="Warm")
    nurture = SequenceFactory(tenant=tenant, name="Nurture")
    add(rep_client, sequence, "action", action="add_tag", tag=str(tag.pk), next_to="case-study")
    add(rep_client, sequence, "action", action="add_to_list", list=str(warm.pk))
    add(rep_client, sequence, "action", action="move_to_sequence", sequence=str(nurture.pk))
    configs = [n.config for n in Step.objects.filter(version_id=sequence.current_version_id, kind="action")
               .order_by("-order")]
    assert configs == [{"action": "add_tag", "tag": tag.pk}, {"action": "add_to_list", "list": warm.pk},
                       {"action": "move_to_sequence", "sequence": nurture.pk}]
    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()
    assert "Tag High Intent" in page and "Add to list Warm" in page and "Move to Nurture" in page


def test_pickers_never_list_another_tenants_tags_lists_or_sequences(rep_client, sequence, tenant, other_tenant):
    Tag.objects.create(tenant=tenant, name="Ours")
    theirs = Tag.objects.create(tenant=other_tenant, name="Spy tag")
    ContactList.objects.create(tenant=other_tenant, name="Spy list")
    SequenceFactory(tenant=other_tenant, name="Spy sequence")
    for kind in ("action", "branch", "wait"):
        page = rep_client.get(url("node-add", sequence.pk), {"type": kind, "after": "intro"}).content.decode()
        assert "Ours" in page
        assert "Spy tag" not in page and "Spy list" not in page and "Spy sequence" not in page
    response = add(rep_client, sequence, "action", action="add_tag", tag=str(theirs.pk))
    assert response.status_code == 422 and "Select a valid choice" in response.content.decode()
    assert not Step.objects.filter(sequence=sequence, kind="action").exists()


def test_an_exit_stores_its_reason(rep_client, sequence):
    add(rep_client, sequence, "exit", after="case-study", reason="Not a fit")
    assert node(sequence, "exit").config == {"reason": "Not a fit"}


def test_a_task_has_its_own_title_instructions_and_outcomes_each_with_a_path(rep_client, sequence):
    response = add(rep_client, sequence, "task", channel="call_reminder", delay_value="1", delay_unit="days",
                   jitter_minutes="0", title="Call {{first_name}}", instructions="Ask about the demo",
                   outcome_1="connected", outcome_1_to="case-study", outcome_2="no answer", outcome_3="wrong person",
                   outcome_3_to="__end__")
    assert response.status_code == 302
    task = node(sequence, "task")
    assert (task.channel, task.subject_template, task.body_template, task.title) == (
        "call_reminder", "Call {{first_name}}", "Ask about the demo", "Call {{first_name}}")
    assert task.config == {"outcomes": ["connected", "no answer", "wrong person"]}
    assert task.edges == [{"label": "connected", "to": "case-study"}, {"label": "wrong person", "to": None}]
    page = rep_client.get(url("node-edit", sequence.pk, task.pk), **HX).content.decode()
    form = page.split(f'id="step-{task.pk}"')[1].split("</form>")[0]
    assert "Instructions for the rep" in form and "Subject template" not in form


def test_a_message_added_after_a_node_keeps_todays_form_and_can_end_the_flow(rep_client, sequence):
    response = add(rep_client, sequence, "message", node_name="Calendar link", channel="email",
                   job_type="follow_up", delay_value="0", delay_unit="days", jitter_minutes="0",
                   cta="Pick a slot", next_to="__end__")
    assert response.status_code == 302
    added = nodes(sequence)[1]
    assert (added.kind, added.title, added.cta, added.edges) == ("message", "Calendar link", "Pick a slot",
                                                                  [{"label": "next", "to": None}])


@pytest.mark.parametrize("kind, data, message", [
    ("wait", {"mode": "event", "event_kind": "clicked"}, "Enter how long to wait at most."),
    ("wait", {"mode": "until", "time": "09:00"}, "Pick at least one weekday."),
    ("branch", {"r1_label": "Clicked", "r1c1_kind": "clicked", "r1c1_node": "intro"}, "Choose where this path leads."),
    ("branch", {"r1c1_kind": "opened", "r1_to": "case-study"}, "Choose the message."),
    ("split", {"a1_label": "A", "a1_to": "case-study"}, "Give the arm a weight."),
    ("action", {"action": "add_tag"}, "This action needs it."),
    ("message", {"channel": "email", "job_type": "follow_up", "delay_value": "-1", "delay_unit": "days",
                 "node_name": "Keep me"}, "The delay can&#x27;t be negative."),
])
def test_bad_input_is_refused_inline_with_422_and_nothing_is_stored(rep_client, sequence, kind, data, message):
    response = add(rep_client, sequence, kind, headers=HX, **data)
    page = response.content.decode()
    assert response.status_code == 422 and message in page and 'id="add-node-form"' in page
    assert len(nodes(sequence)) == 2


def test_editing_a_branch_opens_on_its_rules_and_saves_the_change(rep_client, sequence):
    add(rep_client, sequence, "branch", r1_label="Replied", r1_to="case-study", r1c1_kind="replied",
        r1c1_node="intro", default_to="__end__")
    branch = node(sequence, "branch")
    form = rep_client.get(url("node-edit", sequence.pk, branch.pk), **HX).content.decode()
    assert 'value="Replied"' in form and "Edit step 2" in form
    response = rep_client.post(url("node-edit", sequence.pk, branch.pk), {
        "r1_label": "Replied", "r1_to": "case-study", "r1c1_kind": "replied", "r1c1_node": "intro",
        "default_to": "case-study"}, **HX)
    assert response.status_code == 200 and "Step 2 saved." in response.content.decode()
    branch.refresh_from_db()
    assert branch.edges[-1] == {"label": "default", "to": "case-study"}
    assert AuditEntry.objects.filter(object_id=str(sequence.pk), action="node_updated").exists()
    bad = rep_client.post(url("node-edit", sequence.pk, branch.pk), {"r1c1_kind": "tag"}, **HX)
    assert bad.status_code == 422 and "Choose the tag." in bad.content.decode()
    branch.refresh_from_db()
    assert branch.edges[-1] == {"label": "default", "to": "case-study"}


def test_deleting_a_node_redirects_the_paths_that_led_to_it_to_its_next_target(rep_client, sequence, tenant, rep):
    wait = node_add(tenant=tenant, sequence=sequence, actor=rep, kind="wait", after="case-study",
                    values={"delay_value": 3}, config={"mode": "duration"}, edges=[{"label": "next", "to": "intro"}])
    branch = node_add(tenant=tenant, sequence=sequence, actor=rep, kind="branch", after="intro", edges=[
        {"label": "Replied", "condition": {"kind": "replied", "node": "intro"}, "to": wait.key},
        {"label": "default", "to": wait.key}])
    assert rep_client.get(url("node-delete", sequence.pk, wait.pk)).status_code == 200
    assert rep_client.post(url("node-delete", sequence.pk, wait.pk)).status_code == 302
    branch.refresh_from_db()
    assert [e["to"] for e in branch.edges] == ["intro", "intro"]
    assert [n.key for n in nodes(sequence)] == ["intro", branch.key, "case-study"]


def test_deleting_the_node_below_a_step_keeps_the_step_going_where_the_deleted_one_went(tenant, rep, sequence):
    exit_node = node_add(tenant=tenant, sequence=sequence, actor=rep, kind="exit", after="intro")
    middle = node_add(tenant=tenant, sequence=sequence, actor=rep, kind="action", after="intro",
                      config={"action": "exit", "reason": "x"}, edges=[{"label": "next", "to": "case-study"}])
    assert [n.key for n in nodes(sequence)] == ["intro", middle.key, exit_node.key, "case-study"]
    node_delete(tenant=tenant, sequence=sequence, node=middle, actor=rep)
    intro = nodes(sequence)[0]
    assert intro.edges == [{"label": "next", "to": "case-study"}]  # not into the exit below it


def test_adding_after_a_step_with_a_next_path_puts_the_new_node_on_that_path(tenant, rep, sequence):
    intro = nodes(sequence)[0]
    Step.objects.filter(pk=intro.pk).update(edges=[{"label": "next", "to": "case-study"}])
    wait = node_add(tenant=tenant, sequence=sequence, actor=rep, kind="wait", after="intro",
                    config={"mode": "duration"})
    intro.refresh_from_db()
    assert intro.edges == [{"label": "next", "to": wait.key}]
    assert wait.edges == [{"label": "next", "to": "case-study"}]


def test_adding_after_a_step_that_ends_the_flow_leaves_the_end_in_place(tenant, rep, sequence):
    intro = nodes(sequence)[0]
    Step.objects.filter(pk=intro.pk).update(edges=[{"label": "next", "to": None}])
    wait = node_add(tenant=tenant, sequence=sequence, actor=rep, kind="wait", after="intro",
                    config={"mode": "duration"})
    intro.refresh_from_db()
    assert intro.edges == [{"label": "next", "to": None}] and wait.edges == []


def test_once_enrollments_are_pinned_edits_go_to_a_draft_that_the_builder_shows(rep_client, sequence, tenant):
    EnrollmentFactory(sequence=sequence, tenant=tenant, version_id=sequence.current_version_id)
    add(rep_client, sequence, "exit", after="case-study", reason="Done")
    assert not Step.objects.filter(version_id=sequence.current_version_id, kind="exit").exists()
    draft_exit = Step.objects.get(sequence=sequence, kind="exit")
    assert draft_exit.version.state == "draft"
    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()
    assert f'id="step-{draft_exit.pk}"' in page and "Editing draft v2 (published: v1)" in page


def test_an_outsider_gets_404_on_every_node_route(outsider_client, sequence):
    target = nodes(sequence)[1]
    for path in (url("node-add", sequence.pk) + "?type=wait&after=intro", url("node-edit", sequence.pk, target.pk),
                 url("node-delete", sequence.pk, target.pk)):
        assert outsider_client.get(path).status_code == 404, path
        assert outsider_client.post(path, {"type": "exit", "reason": "x"}).status_code == 404, path
    assert [n.key for n in nodes(sequence)] == ["intro", "case-study"]


def test_a_node_of_another_sequence_is_404_under_this_one(rep_client, sequence, tenant):
    elsewhere = StepFactory(sequence=SequenceFactory(tenant=tenant))
    assert rep_client.get(url("node-edit", sequence.pk, elsewhere.pk)).status_code == 404
    assert rep_client.post(url("node-delete", sequence.pk, elsewhere.pk)).status_code == 404
    assert Step.objects.filter(pk=elsewhere.pk).exists()


def _as_post(*forms_):
    """What a browser posts back for forms opened on their initial values, untouched."""
    data = {}
    for form in forms_:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field, django_forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(value, (list, tuple)):
                data[bound.html_name] = [str(v) for v in value]
            elif value is not None:
                data[bound.html_name] = value.strftime("%H:%M") if hasattr(value, "strftime") else str(value)
    return data


@pytest.mark.parametrize("kind, settings", [
    ("wait", dict(mode="event", event_kind="clicked", link_contains="demo", relative_to="intro", timeout_value="2",
                  timeout_unit="hours", event_to="case-study", timeout_to="__end__")),
    ("wait", dict(mode="until", weekdays=["0", "3"], time="09:30", next_to="__end__")),
    ("branch", dict(r1_label="Hot", r1_join="any", r1_to="case-study", r1c1_kind="score_band", r1c1_bands=["hot"],
                    r1c2_kind="field", r1c2_field="industry", r1c2_op="one_of", r1c2_value="SaaS, Fintech",
                    r2_label="Not opened", r2_to="__end__", r2c1_kind="not_opened", r2c1_node="intro",
                    default_to="case-study")),
    ("split", dict(a1_label="A", a1_weight="50", a1_to="case-study", a2_label="B", a2_weight="50",
                   a2_to="__end__", holdout="on", holdout_weight="5")),
    ("action", dict(action="set_context", key="track", value="fast", next_to="case-study")),
    ("exit", dict(reason="Not a fit")),
    ("task", dict(channel="task", delay_value="0", delay_unit="days", jitter_minutes="0", title="Call",
                  outcome_1="connected", outcome_1_to="case-study", outcome_2="voicemail")),
])
def test_each_edit_form_opens_on_what_is_stored_and_saving_it_untouched_changes_nothing(
    rep_client, sequence, tenant, kind, settings
):
    assert add(rep_client, sequence, kind, **settings).status_code == 302
    stored = node(sequence, kind)
    before = (stored.config, stored.edges)
    form, paths = forms_for(tenant=tenant, sequence=sequence, kind=kind, node=stored)
    response = rep_client.post(url("node-edit", sequence.pk, stored.pk), _as_post(*(f for f in (form, paths) if f)))
    assert response.status_code == 302
    stored.refresh_from_db()
    assert (stored.config, stored.edges) == before
    assert not AuditEntry.objects.filter(object_id=str(sequence.pk), action="node_updated").exists()
