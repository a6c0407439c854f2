"""Branch nodes through the real processor on PostgreSQL: the first rule whose condition
matches chooses the path, everyone else takes the default, the activity says why, and
conditions are evaluated with a fixed number of statements whatever the batch size."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Tag
from contacts.services.lists import list_add_contacts, list_create
from contacts.services.tags import contact_tags_add
from sequences.engine import conditions
from sequences.engine.steps import step_type
from sequences.models import Activity
from tests.factories import ContactFactory

from .engine_helpers import WEDNESDAY, due_enrollment, sweep_inline
from .flow_helpers import contact_did, flow, sent

pytestmark = pytest.mark.django_db

SENT_AT = WEDNESDAY - timedelta(days=2)


def fast_track(tenant, condition, **fields):
    """Seed 001's fast track: intro → branch (the rule, else default) → demo | case study."""
    return flow(tenant, [
        {"key": "intro", "title": "Product intro"},
        {"key": "route", "kind": "branch", "title": "Clicked demo?", "edges": [
            {"label": "Clicked demo", "condition": condition, "to": "demo"},
            {"label": "default", "to": "case"},
        ]},
        {"key": "demo", "title": "Calendar link", "delay_value": 1},
        {"key": "case", "title": "Case study", "delay_value": 3},
    ], **fields)


def at_branch(sequence, nodes, **contact_fields):
    contact = ContactFactory(tenant=sequence.tenant, **contact_fields)
    return due_enrollment(sequence, nodes["route"], contact=contact)


def taken(enrollment):
    enrollment.refresh_from_db()
    return enrollment.current_step.key


def path_row(enrollment):
    return Activity.objects.get(enrollment=enrollment, kind="path")


CLICK_DEMO = {"kind": "clicked", "node": "intro", "link_contains": "/book-demo", "within_days": 3}


def test_a_click_on_the_demo_link_takes_the_clicked_path_and_the_activity_names_the_click(tenant):
    sequence, nodes = fast_track(tenant, CLICK_DEMO)
    enrollment = at_branch(sequence, nodes)
    message = sent(enrollment, nodes["intro"], at=SENT_AT)
    contact_did(message, "clicked", at=SENT_AT + timedelta(hours=3), url="https://acme.example/book-demo?utm=x")

    sweep_inline()

    assert taken(enrollment) == "demo"
    row = path_row(enrollment)
    assert row.detail.startswith("Took path “Clicked demo” because the contact clicked …/book-demo at ")
    assert "14:00 their time (New York" in row.detail  # 18:00 UTC on the Monday, in the contact's zone
    assert row.data["label"] == "Clicked demo" and row.data["node"] == "route"
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == WEDNESDAY + timedelta(days=1)


@pytest.mark.parametrize("url, after", [
    ("https://acme.example/pricing", timedelta(hours=3)),  # another link
    ("https://acme.example/book-demo", timedelta(days=4)),  # the link, after the lookback window
])
def test_another_link_or_a_click_after_the_lookback_takes_the_default_path(tenant, url, after):
    sequence, nodes = fast_track(tenant, CLICK_DEMO)
    enrollment = at_branch(sequence, nodes)
    contact_did(sent(enrollment, nodes["intro"], at=SENT_AT), "clicked", at=SENT_AT + after, url=url)

    sweep_inline(now=WEDNESDAY + timedelta(days=3))

    assert taken(enrollment) == "case"
    assert path_row(enrollment).detail == "Took path “default” because no rule matched: default"


@pytest.mark.parametrize("kind, facts, expected", [
    ("opened", ["opened"], "demo"),
    ("opened", [], "case"),
    ("opened", ["clicked"], "demo"),  # a click tells of an open (images blocked)
    ("not_opened", [], "demo"),
    ("not_opened", ["opened"], "case"),
    ("replied", ["replied"], "demo"),
    ("replied", ["opened"], "case"),
])
def test_engagement_with_the_earlier_message_chooses_the_path(tenant, kind, facts, expected):
    sequence, nodes = fast_track(tenant, {"kind": kind, "node": "intro"}, stop_on_reply=False)
    enrollment = at_branch(sequence, nodes)
    message = sent(enrollment, nodes["intro"], at=SENT_AT)
    for fact in facts:
        contact_did(message, fact, at=SENT_AT + timedelta(hours=1), url="https://acme.example/x")

    sweep_inline()

    assert taken(enrollment) == expected


def test_only_this_enrollments_own_message_counts(tenant):
    sequence, nodes = fast_track(tenant, {"kind": "opened", "node": "intro"})
    opened, other = at_branch(sequence, nodes), at_branch(sequence, nodes)
    contact_did(sent(opened, nodes["intro"], at=SENT_AT), "opened", at=SENT_AT + timedelta(hours=1))
    sent(other, nodes["intro"], at=SENT_AT)

    sweep_inline()

    assert (taken(opened), taken(other)) == ("demo", "case")


CONTACT = dict(company="Acme Robotics", title="", lead_status="qualified", score_band="cold",
               custom_fields={"employees": "250", "renewal": "2025-09-01", "plan": "pro"})


@pytest.mark.parametrize("condition, expected", [
    ({"kind": "field", "field": "company", "op": "contains", "value": "robot"}, "demo"),
    ({"kind": "field", "field": "company", "op": "equals", "value": "acme robotics"}, "demo"),
    ({"kind": "field", "field": "company", "op": "equals", "value": "Acme"}, "case"),
    # Numbers compare as numbers: as text, "250" would be above "1000".
    ({"kind": "field", "field": "employees", "op": "gt", "value": 100}, "demo"),
    ({"kind": "field", "field": "employees", "op": "gt", "value": "1000"}, "case"),
    ({"kind": "field", "field": "employees", "op": "lt", "value": "1000"}, "demo"),
    ({"kind": "field", "field": "renewal", "op": "lt", "value": "2025-10-01"}, "demo"),
    ({"kind": "field", "field": "renewal", "op": "gt", "value": "2025-10-01"}, "case"),
    ({"kind": "field", "field": "plan", "op": "one_of", "value": ["enterprise", "pro"]}, "demo"),
    ({"kind": "field", "field": "plan", "op": "one_of", "value": ["starter"]}, "case"),
    ({"kind": "field", "field": "title", "op": "empty"}, "demo"),
    ({"kind": "field", "field": "company", "op": "not_empty"}, "demo"),
    ({"kind": "lead_status", "in": ["qualified", "contacted"]}, "demo"),
    ({"kind": "lead_status", "in": ["new"]}, "case"),
    ({"kind": "score_band", "in": ["hot", "warm"]}, "case"),
    ({"kind": "score_band", "in": ["cold"]}, "demo"),
    ({"kind": "context", "key": "source", "op": "equals", "value": "webinar"}, "demo"),
    ({"kind": "context", "key": "source", "op": "equals", "value": "ads"}, "case"),
    ({"all": [{"kind": "lead_status", "in": ["qualified"]}, {"kind": "score_band", "in": ["hot"]}]}, "case"),
    ({"any": [{"kind": "lead_status", "in": ["new"]}, {"kind": "field", "field": "plan", "op": "equals",
                                                        "value": "pro"}]}, "demo"),
])
def test_contact_fields_status_band_and_context_choose_the_path(tenant, condition, expected):
    sequence, nodes = fast_track(tenant, condition)
    enrollment = at_branch(sequence, nodes, **CONTACT)
    enrollment.context = {"source": "webinar"}
    enrollment.save(update_fields=["context"])

    sweep_inline()

    assert taken(enrollment) == expected


@pytest.mark.parametrize("tagged, has, expected", [(True, True, "demo"), (False, True, "case"),
                                                   (True, False, "case"), (False, False, "demo")])
def test_a_tag_chooses_the_path(tenant, manager, tagged, has, expected):
    tag = Tag.objects.create(tenant=tenant, name="High Intent")
    sequence, nodes = fast_track(tenant, {"kind": "tag", "tag": tag.pk, "has": has})
    enrollment = at_branch(sequence, nodes)
    if tagged:
        contact_tags_add(tenant=tenant, contact_ids=[enrollment.contact_id], tag=tag, actor=manager)

    sweep_inline()

    assert taken(enrollment) == expected


@pytest.mark.parametrize("member, expected", [(True, "demo"), (False, "case")])
def test_list_membership_chooses_the_path(tenant, manager, member, expected):
    webinar = list_create(tenant=tenant, name="Webinar attendees", actor=manager)
    sequence, nodes = fast_track(tenant, {"kind": "list", "list": webinar.pk, "member": True})
    enrollment = at_branch(sequence, nodes)
    if member:
        list_add_contacts(tenant=tenant, contact_list=webinar, contact_ids=[enrollment.contact_id], actor=manager)

    sweep_inline()

    assert taken(enrollment) == expected


def test_the_first_matching_rule_wins(tenant):
    sequence, nodes = flow(tenant, [
        {"key": "route", "kind": "branch", "edges": [
            {"label": "Hot", "condition": {"kind": "score_band", "in": ["hot"]}, "to": "a"},
            {"label": "Qualified", "condition": {"kind": "lead_status", "in": ["qualified"]}, "to": "b"},
            {"label": "Also qualified", "condition": {"kind": "lead_status", "in": ["qualified"]}, "to": "c"},
            {"label": "default", "to": "c"},
        ]},
        {"key": "a", "delay_value": 1}, {"key": "b", "delay_value": 1}, {"key": "c", "delay_value": 1},
    ])
    enrollment = due_enrollment(sequence, nodes["route"], contact=ContactFactory(tenant=tenant, lead_status="qualified"))

    sweep_inline()

    assert taken(enrollment) == "b"
    assert path_row(enrollment).detail == "Took path “Qualified” because the lead status is Qualified"


def test_a_rule_on_a_deleted_tag_takes_the_default_path_and_says_why(tenant, manager):
    tag = Tag.objects.create(tenant=tenant, name="VIP")
    sequence, nodes = fast_track(tenant, {"kind": "tag", "tag": tag.pk, "has": False})
    enrollment = at_branch(sequence, nodes)
    tag_id = tag.pk
    tag.delete()

    sweep_inline()

    assert taken(enrollment) == "case"
    row = path_row(enrollment)
    assert row.detail == (f"Took path “default” because rule “Clicked demo” could not be checked "
                          f"(the tag #{tag_id} no longer exists): default")
    assert row.data["missing"] == f"the tag #{tag_id} no longer exists"
    assert step_type("branch").settings_problems(nodes["route"], tenant=tenant) == {
        "edges": ["Rule “Clicked demo”: No such tag in this workspace."]}


def test_a_rule_on_a_deleted_custom_field_takes_the_default_path(tenant):
    sequence, nodes = fast_track(tenant, {"kind": "field", "field": "industry", "op": "empty"})
    enrollment = at_branch(sequence, nodes, custom_fields={})

    sweep_inline()

    assert taken(enrollment) == "case"
    assert "the field “industry” no longer exists" in path_row(enrollment).detail


def test_another_tenants_tag_is_a_problem_and_never_matches(tenant, other_tenant):
    theirs = Tag.objects.create(tenant=other_tenant, name="High Intent")
    sequence, nodes = fast_track(tenant, {"kind": "tag", "tag": theirs.pk, "has": False})
    enrollment = at_branch(sequence, nodes)

    problems = step_type("branch").settings_problems(nodes["route"], tenant=tenant)
    sweep_inline()

    assert problems == {"edges": ["Rule “Clicked demo”: No such tag in this workspace."]}
    # Even "does not have the tag" does not match: the tag does not exist for this tenant.
    assert taken(enrollment) == "case"
    assert f"the tag #{theirs.pk} no longer exists" in path_row(enrollment).detail


def test_another_tenants_list_is_a_problem(tenant, other_tenant, outsider):
    theirs = list_create(tenant=other_tenant, name="Their list", actor=outsider)
    _, nodes = fast_track(tenant, {"kind": "list", "list": theirs.pk, "member": True})

    assert step_type("branch").settings_problems(nodes["route"], tenant=tenant) == {
        "edges": ["Rule “Clicked demo”: No such list in this workspace."]}


def test_a_branch_without_a_default_or_with_bad_conditions_lists_every_problem(tenant):
    _, nodes = flow(tenant, [
        {"key": "route", "kind": "branch", "edges": [
            {"label": "Clicked", "condition": {"kind": "clicked", "node": "later"}, "to": "later"},
            {"label": "Big", "condition": {"kind": "field", "field": "shoe_size", "op": "gt", "value": "x"},
             "to": "later"},
            {"label": "Odd", "condition": {"kind": "weather"}, "to": "later"},
        ]},
        {"key": "later"},
    ])

    problems = step_type("branch").settings_problems(nodes["route"], tenant=tenant)["edges"]

    assert problems == [
        "A branch needs a default path (an edge labelled “default”) for contacts no rule matches.",
        "Rule “Clicked”: “later” is not a message node that can run before this one.",
        "Rule “Big”: Unknown field “shoe_size”: it is neither a contact field nor a custom field of this workspace.",
        "Rule “Big”: “gt” compares numbers or dates (YYYY-MM-DD): “x” is neither.",
        "Rule “Odd”: No such condition kind: 'weather'.",
    ]


def test_a_valid_fast_track_branch_has_no_problems(tenant, manager):
    tag = Tag.objects.create(tenant=tenant, name="High Intent")
    ContactFactory(tenant=tenant, custom_fields={"employees": "10"})
    _, nodes = fast_track(tenant, {"all": [CLICK_DEMO, {"kind": "tag", "tag": tag.pk, "has": False},
                                           {"kind": "field", "field": "employees", "op": "gt", "value": 5}]})

    assert step_type("branch").settings_problems(nodes["route"], tenant=tenant) == {}


def _branch_batch(tenant, size, tag, webinar, manager):
    condition = {"any": [
        CLICK_DEMO,
        {"kind": "tag", "tag": tag.pk, "has": True},
        {"kind": "list", "list": webinar.pk, "member": True},
        {"kind": "field", "field": "employees", "op": "gt", "value": 100},
        {"kind": "lead_status", "in": ["qualified"]},
    ]}
    sequence, nodes = fast_track(tenant, condition)
    enrollments = []
    for n in range(size):
        fields = {"custom_fields": {"employees": str(n * 50)}} if n % 2 else {}
        enrollment = at_branch(sequence, nodes, **fields)
        message = sent(enrollment, nodes["intro"], at=SENT_AT)
        if n % 3 == 0:
            contact_did(message, "clicked", at=SENT_AT + timedelta(hours=1), url="https://acme.example/book-demo")
        enrollments.append(enrollment)
    contact_tags_add(tenant=tenant, contact_ids=[e.contact_id for e in enrollments[1::4]], tag=tag, actor=manager)
    list_add_contacts(tenant=tenant, contact_list=webinar, contact_ids=[e.contact_id for e in enrollments[2::4]],
                      actor=manager)
    return enrollments


def test_evaluating_a_branch_takes_the_same_statements_for_n_and_2n_enrollments(tenant, manager):
    tag = Tag.objects.create(tenant=tenant, name="High Intent")
    webinar = list_create(tenant=tenant, name="Webinar", actor=manager)
    counts = []
    for size in (6, 12):
        enrollments = _branch_batch(tenant, size, tag, webinar, manager)
        with CaptureQueriesContext(connection) as queries:
            sweep_inline()
        counts.append(len(queries))
        paths = [taken(e) for e in enrollments]
        assert "demo" in paths and "case" in paths
    assert counts[0] == counts[1], counts


def test_conditions_are_grouped_one_query_per_family_for_many_rules_and_nodes(tenant, manager):
    from sequences.flow.navigator import graph_of
    from sequences.models import Enrollment

    tag = Tag.objects.create(tenant=tenant, name="High Intent")
    webinar = list_create(tenant=tenant, name="Webinar", actor=manager)
    ids = [e.pk for e in _branch_batch(tenant, 8, tag, webinar, manager)]
    enrollments = list(Enrollment.objects.filter(pk__in=ids).select_related("contact", "sequence__tenant"))
    graph = graph_of(enrollments[0].version_id)
    context = conditions.Context(now=WEDNESDAY, graph_for=lambda e: graph)
    trees = [CLICK_DEMO, {"kind": "opened", "node": "intro"}, {"kind": "tag", "tag": tag.pk},
             {"any": [{"kind": "list", "list": webinar.pk}, {"kind": "tag", "tag": tag.pk, "has": False}]},
             {"kind": "lead_status", "in": ["new"]}, {"kind": "field", "field": "company", "op": "not_empty"}]
    pairs = [(e, tree) for e in enrollments for tree in trees]

    with CaptureQueriesContext(connection) as queries:
        outcomes = conditions.outcomes_for(pairs, context=context)

    # The messages with their events, the tags, the lists: columns of the contact need none.
    assert len(queries) == 3
    tagged = {e.pk for e, outcome in zip(enrollments, outcomes[2::len(trees)]) if outcome.matched}
    assert tagged == {ids[1], ids[5]}


def test_a_branch_checked_before_it_is_saved_leaves_node_references_to_the_flows_validation(tenant, other_tenant):
    from sequences.models import Step

    theirs = Tag.objects.create(tenant=other_tenant, name="Theirs")
    unsaved = Step(key="route", kind="branch", edges=[
        {"label": "Clicked", "condition": {"all": [CLICK_DEMO, {"kind": "tag", "tag": theirs.pk}]}, "to": "x"},
        {"label": "default", "to": "y"},
    ])

    assert step_type("branch").settings_problems(unsaved, tenant=tenant) == {
        "edges": ["Rule “Clicked”: No such tag in this workspace."]}
