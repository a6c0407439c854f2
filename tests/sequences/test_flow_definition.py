"""A version's flow as a document: written and read back, its shape checked on the
way in, its sense checked at publish, each problem on the node it concerns."""
import pytest
from django.core.exceptions import ValidationError

from sequences.engine.validation import flow_problems
from sequences.flow.definition import read_document, version_document
from sequences.models import Step
from sequences.services.sequences import sequence_create
from sequences.services.versions import definition_save, editing_version
from tests.factories import ContactFactory
from sequences.services.enrollments import enrollment_create

pytestmark = pytest.mark.django_db


def _doc(*nodes, **extra):
    return {"nodes": list(nodes), **extra}


def _email(key, **settings):
    return {"key": key, "type": "message", "title": key.title(),
            "settings": {"channel": "email", "job_type": "follow_up", "delay_value": 1, **settings}}


@pytest.fixture
def sequence(tenant, rep):
    return sequence_create(tenant=tenant, actor=rep, name="Flows")


def test_a_saved_definition_reads_back_as_the_same_document(tenant, rep, sequence):
    document = _doc(
        _email("intro", job_type="initial_outreach", delay_value=0, window_start="09:00", window_end="17:00",
               window_days=[0, 1, 2, 3, 4]),
        {"key": "call", "type": "task", "title": "Call them", "settings": {"body_template": "Ask about Q3",
                                                                           "outcomes": ["connected", "no answer"]},
         "edges": [{"label": "connected", "to": None}, {"label": "next", "to": "intro"}]},
        exit_rules={"reply": "exit"}, goals=[{"key": "booked", "name": "Booked", "condition": {"kind": "meeting_booked"},
                                              "action": "exit"}],
    )
    version = definition_save(tenant=tenant, sequence=sequence, actor=rep, document=document)

    read = version_document(version, Step.objects.filter(version=version).order_by("order"))
    assert [node["key"] for node in read["nodes"]] == ["intro", "call"]
    intro, call = read["nodes"]
    assert intro["settings"]["window_start"] == "09:00" and intro["settings"]["window_days"] == [0, 1, 2, 3, 4]
    assert call["settings"]["channel"] == "task" and call["settings"]["outcomes"] == ["connected", "no answer"]
    assert call["edges"] == [{"label": "connected", "to": None}, {"label": "next", "to": "intro"}]
    assert read["exit_rules"] == {"reply": "exit"} and read["goals"][0]["key"] == "booked"


def test_saving_again_keeps_the_nodes_whose_keys_stay_and_drops_the_others(tenant, rep, sequence):
    definition_save(tenant=tenant, sequence=sequence, actor=rep, document=_doc(_email("a"), _email("b")))
    kept = Step.objects.get(version=sequence.current_version, key="a").pk

    definition_save(tenant=tenant, sequence=sequence, actor=rep, document=_doc(_email("c"), _email("a", angle="x")))

    nodes = list(Step.objects.filter(version=sequence.current_version).order_by("order"))
    assert [(n.key, n.order) for n in nodes] == [("c", 1), ("a", 2)]
    assert nodes[1].pk == kept and nodes[1].angle == "x"


@pytest.mark.parametrize("document, where", [
    ({"nodes": "intro"}, "nodes"),
    (_doc({"key": "has space", "type": "message"}), "nodes"),
    (_doc(_email("a"), _email("a")), "nodes.a.key"),
    (_doc({"key": "a", "type": "message", "edges": [{"label": "next", "to": 3}]}), "nodes.a.edges"),
    (_doc({"key": "a", "type": "message", "edges": [{"to": "b"}]}), "nodes.a.edges"),
    (_doc({"key": "a", "type": "message", "settings": {"delay_value": "soon"}}), "nodes.a.delay_value"),
    (_doc({"key": "a", "type": "message", "settings": {"window_start": "25:00"}}), "nodes.a.window_start"),
    ([1, 2], "definition"),
])
def test_a_malformed_document_is_refused_with_the_place_of_each_problem(tenant, rep, sequence, document, where):
    with pytest.raises(ValidationError) as refused:
        definition_save(tenant=tenant, sequence=sequence, actor=rep, document=document)
    assert where in refused.value.message_dict
    assert not Step.objects.filter(sequence=sequence).exists()


def test_an_unknown_type_and_a_path_to_a_missing_node_are_problems_on_their_nodes(tenant):
    nodes, *_ = read_document(_doc({"key": "a", "type": "teleport"},
                                   {"key": "b", "type": "message", "edges": [{"label": "next", "to": "zzz"}]}))
    problems = flow_problems(nodes, tenant=tenant)
    assert "teleport" in problems["a"]["type"][0]
    assert "zzz" in problems["b"]["edges"][0]


def test_a_condition_on_a_message_that_cannot_have_run_yet_is_a_problem(tenant):
    nodes, *_ = read_document(_doc(
        {"key": "first", "type": "task", "settings": {"relative_to": "later"}},
        _email("later"),
    ))
    assert "cannot have run before" in flow_problems(nodes, tenant=tenant)["first"]["conditions"][0]
    nodes, *_ = read_document(_doc(_email("earlier"), {"key": "then", "type": "task",
                                                       "settings": {"relative_to": "earlier"}}))
    assert "then" not in flow_problems(nodes, tenant=tenant)


def test_an_empty_flow_cannot_be_published(tenant):
    assert flow_problems([], tenant=tenant)["flow"]["nodes"] == ["Add at least one step."]


def test_edits_go_to_a_draft_once_someone_is_on_the_published_version(tenant, rep, sequence):
    definition_save(tenant=tenant, sequence=sequence, actor=rep, document=_doc(_email("a", delay_value=0)))
    sequence.status = "active"
    sequence.save(update_fields=["status"])
    assert editing_version(sequence=sequence).pk == sequence.current_version_id
    enrollment_create(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant), actor=rep)

    draft = definition_save(tenant=tenant, sequence=sequence, actor=rep, document=_doc(_email("a", angle="new")))

    assert draft.pk != sequence.current_version_id and draft.state == "draft" and draft.number == 2
    assert Step.objects.get(version=sequence.current_version, key="a").angle == ""
    assert Step.objects.get(version=draft, key="a").angle == "new"


def test_a_version_with_enrollments_on_it_is_never_deleted_alone_but_goes_with_its_sequence(tenant, rep, sequence):
    from django.db.models import RestrictedError

    from sequences.models import Enrollment, SequenceVersion

    definition_save(tenant=tenant, sequence=sequence, actor=rep, document=_doc(_email("a", delay_value=0)))
    sequence.status = "active"
    sequence.save(update_fields=["status"])
    enrollment_create(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant), actor=rep)

    with pytest.raises(RestrictedError):
        SequenceVersion.objects.filter(pk=sequence.current_version_id).delete()
    sequence.delete()
    assert not Enrollment.objects.exists() and not SequenceVersion.objects.exists()


def test_activating_a_flow_checks_it_as_a_publish_does(tenant, rep, sequence):
    from sequences.services.sequences import activation_problems, sequence_activate
    from tests.factories import AgentFactory, MailboxFactory

    sequence.agent, sequence.sender_profile = AgentFactory(tenant=tenant), MailboxFactory(tenant=tenant)
    sequence.save(update_fields=["agent", "sender_profile"])
    definition_save(tenant=tenant, sequence=sequence, actor=rep, document=_doc(
        _email("intro", job_type="initial_outreach", delay_value=0),
        {"key": "check", "type": "branch", "title": "Check",
         "edges": [{"label": "Opened", "condition": {"kind": "opened", "node": "intro"}, "to": "intro"}]},
    ))

    problems = activation_problems(sequence)
    assert any(problem.startswith("Step 2: ") and "default" in problem for problem in problems), problems
    with pytest.raises(ValidationError):
        sequence_activate(tenant=tenant, sequence=sequence, actor=rep)
    sequence.refresh_from_db()
    assert sequence.status == "draft"
