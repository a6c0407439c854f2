"""Flow templates: written as definition documents, created through the same save as the
API's, valid flows once created, their tags the workspace's own; seed 002's pacing
defaults warn on the builder without refusing anything."""
import pytest
from django.urls import reverse

from contacts.models import Tag
from sequences import templates_catalog
from sequences.engine.validation import flow_problems
from sequences.flow.definition import read_document
from sequences.flow.pacing import pacing_warnings
from sequences.models import Sequence, SequenceVersion, Step
from sequences.services.sequences import sequence_create, sequence_create_from_template
from sequences.services.versions import definition_save

FLOWS = templates_catalog.FLOWS


@pytest.mark.parametrize("template", FLOWS, ids=lambda t: t.key)
def test_every_flow_template_is_a_well_formed_document(template):
    nodes, goals, exit_rules, problems = read_document(template.document)
    assert problems == {}
    assert len(nodes) == len(template.nodes) and all(node.title for node in nodes)


@pytest.mark.django_db
@pytest.mark.parametrize("template", FLOWS, ids=lambda t: t.key)
def test_every_flow_template_creates_a_flow_that_may_be_published(tenant, rep, template):
    sequence = sequence_create_from_template(tenant=tenant, key=template.key, actor=rep)

    nodes = list(sequence.current_nodes().order_by("order"))
    assert [node.key for node in nodes] == [node["key"] for node in template.nodes]
    assert flow_problems(nodes, tenant=tenant) == {}
    assert pacing_warnings(nodes) == []


@pytest.mark.django_db
def test_the_fast_track_tags_with_the_workspaces_own_high_intent_tag(tenant, other_tenant, rep):
    theirs = Tag.objects.create(tenant=other_tenant, name="High Intent")

    first = sequence_create_from_template(tenant=tenant, key="fast_track_demo", actor=rep)
    second = sequence_create_from_template(tenant=tenant, key="fast_track_demo", actor=rep)

    ours = Tag.objects.get(tenant=tenant, name="High Intent")
    assert ours.pk != theirs.pk
    for sequence in (first, second):
        action = Step.objects.get(version=sequence.current_version, key="tag-high-intent")
        assert action.config == {"action": "add_tag", "tag": ours.pk}
    branch = Step.objects.get(version=first.current_version, key="clicked-demo")
    assert branch.edges[0]["condition"] == {"kind": "clicked", "node": "intro", "within_days": 3,
                                            "link_contains": "book-demo"}
    assert [edge["to"] for edge in branch.edges] == ["tag-high-intent", "case-study"]


@pytest.mark.django_db
def test_the_nurture_flow_exits_on_a_positive_reply_and_paces_every_message_two_days_apart(tenant, rep):
    sequence = sequence_create_from_template(tenant=tenant, key="lead_nurture", actor=rep)

    version = SequenceVersion.objects.get(pk=sequence.current_version_id)
    assert version.exit_rules == {"reply": "exit_positive", "conversion": True,
                                                   "disqualification": True}
    nodes = list(sequence.current_nodes().order_by("order"))
    assert all(node.delay_value >= 2 and node.delay_unit == "days" for node in nodes[1:])
    assert sum(node.kind == "message" for node in nodes) <= 6


@pytest.mark.django_db
def test_the_re_engagement_flow_waits_up_to_seven_days_for_an_open_of_its_email(tenant, rep):
    sequence = sequence_create_from_template(tenant=tenant, key="re_engagement_flow", actor=rep)

    wait = Step.objects.get(version=sequence.current_version, key="wait-for-open")
    assert wait.kind == "wait"
    assert wait.config == {"mode": "event", "event": {"kind": "opened", "relative_to": "reconnect"},
                           "timeout": {"value": 7, "unit": "days"}}
    assert {edge["label"]: edge["to"] for edge in wait.edges} == {"event": "opened-follow-up", "timeout": "last-try"}


def _emails(count, delay):
    return [{"key": f"m{n}", "type": "message", "title": f"Email {n}",
             "settings": {"channel": "email", "job_type": "follow_up" if n else "initial_outreach",
                          "delay_value": delay if n else 0}} for n in range(count)]


@pytest.mark.django_db
def test_more_than_six_messages_or_three_weeks_warns_without_refusing(tenant, rep):
    sequence = sequence_create(tenant=tenant, actor=rep, name="Long")
    definition_save(tenant=tenant, sequence=sequence, actor=rep, document={"nodes": _emails(7, 2)})
    seven = list(sequence.current_nodes())
    definition_save(tenant=tenant, sequence=sequence, actor=rep, document={"nodes": _emails(4, 8)})
    long = list(sequence.current_nodes())
    definition_save(tenant=tenant, sequence=sequence, actor=rep, document={"nodes": _emails(6, 4)})
    fine = list(sequence.current_nodes())

    assert pacing_warnings(seven) == ["A contact can get 7 messages from this sequence; nurture works best with "
                                      "at most 6."]
    assert pacing_warnings(long) == ["This sequence can run for 24 days; nurture works best within 21 days."]
    assert pacing_warnings(fine) == []


@pytest.mark.django_db
def test_a_wait_for_an_event_counts_its_timeout_and_a_branch_its_longest_path(tenant):
    document = {"nodes": [
        *_emails(1, 0),
        {"key": "wait", "type": "wait", "settings": {"mode": "event", "event": {"kind": "opened"},
                                                     "timeout": {"value": 20, "unit": "days"}},
         "edges": [{"label": "event", "to": "short"}, {"label": "timeout", "to": "long"}]},
        {"key": "short", "type": "message", "settings": {"delay_value": 0}, "edges": [{"label": "next", "to": None}]},
        {"key": "long", "type": "message", "settings": {"delay_value": 2}, "edges": [{"label": "next", "to": "wait"}]},
    ]}
    nodes, *_ = read_document(document)

    assert pacing_warnings(nodes) == ["This sequence can run for 22 days; nurture works best within 21 days."]


@pytest.mark.django_db
def test_the_builder_shows_the_pacing_warning(rep_client, tenant, rep):
    sequence = sequence_create(tenant=tenant, actor=rep, name="Seven")
    definition_save(tenant=tenant, sequence=sequence, actor=rep, document={"nodes": _emails(7, 2)})

    page = rep_client.get(reverse("sequences:sequence-detail", args=[sequence.pk])).content.decode()

    assert 'id="pacing-warnings"' in page and "7 messages" in page


@pytest.mark.django_db
def test_the_template_picker_lists_the_flows_and_creates_one(rep_client, tenant, other_tenant):
    page = rep_client.get(reverse("sequences:sequence-templates")).content.decode()
    for template in (*FLOWS, templates_catalog.CATALOG[0]):
        assert template.name in page
    assert "Flow · 6 nodes" in page

    response = rep_client.post(reverse("sequences:sequence-templates"), {"key": "fast_track_demo"})

    sequence = Sequence.objects.get(tenant=tenant, name="Fast-track demo clicks")
    assert response.status_code == 302
    assert sequence.current_nodes().count() == 6
    assert not Sequence.objects.filter(tenant=other_tenant).exists()
