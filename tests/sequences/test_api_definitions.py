"""A sequence's flow through the API: created whole from a definition, read back by
version, saved as a draft, published with contacts staying or moving, its versions
listed; every problem keyed by node and field, and nothing of another workspace
reachable or referable."""
import json

import pytest
from django.urls import reverse

from contacts.models import Tag
from scendcore.api import api_token_create
from sequences.models import Enrollment, Sequence, SequenceStatus, Step
from sequences.services.enrollments import enrollment_create
from tests.factories import AgentFactory, ContactFactory, MailboxFactory, MailboxPoolFactory, SequenceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(tenant, manager):
    return api_token_create(tenant=tenant, user=manager, name="flows")


@pytest.fixture
def outsider_token(other_tenant, outsider):
    return api_token_create(tenant=other_tenant, user=outsider, name="theirs")


def call(client, method, url, key, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(url, **kwargs)


def email(key, *, delay=1, edges=None, **settings):
    node = {"key": key, "type": "message", "title": key.replace("-", " ").title(),
            "settings": {"channel": "email", "job_type": "follow_up" if delay else "initial_outreach",
                         "delay_value": delay, **settings}}
    if edges is not None:
        node["edges"] = edges
    return node


def task(key, **settings):
    return {"key": key, "type": "task", "title": "Call them",
            "settings": {"delay_value": 2, "body_template": "Ask about their quarter",
                         "outcomes": ["connected", "no answer"], **settings},
            "edges": [{"label": "connected", "to": None}]}


def linear(*extra):
    return [email("intro", delay=0), task("call"), email("last-note"), *extra]


def create(client, token, **body):
    return call(client, "post", reverse("api:sequences"), token, {"name": "Flow", **body})


def test_a_whole_definition_creates_the_sequence_and_its_first_version(client, token, tenant):
    response = create(client, token, definition={"nodes": linear(), "exit_rules": {"reply": "exit"}},
                      description="Three touches")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["description"] == "Three touches"
    assert data["definition"]["version"] == 1 and data["definition"]["state"] == "published"
    assert [n["key"] for n in data["definition"]["nodes"]] == ["intro", "call", "last-note"]
    assert data["definition"]["exit_rules"] == {"reply": "exit"}
    sequence = Sequence.objects.get(tenant=tenant, pk=data["id"])
    assert list(sequence.current_nodes().order_by("order").values_list("key", flat=True)) == \
        ["intro", "call", "last-note"]

    read = call(client, "get", reverse("api:sequence", args=[sequence.pk]), token).json()
    assert read["definition"]["nodes"] == data["definition"]["nodes"]
    assert read["definition"]["nodes"][1]["settings"]["outcomes"] == ["connected", "no answer"]


def test_the_definitions_fields_may_be_the_bodys_own(client, token, tenant):
    agent, mailbox = AgentFactory(tenant=tenant), MailboxFactory(tenant=tenant)

    response = create(client, token, nodes=linear(),
                      settings={"agent_id": agent.pk, "sender_profile_id": mailbox.pk, "stop_on_reply": False})

    assert response.status_code == 201, response.content
    sequence = Sequence.objects.get(pk=response.json()["id"])
    assert (sequence.agent_id, sequence.sender_profile_id, sequence.stop_on_reply) == (agent.pk, mailbox.pk, False)
    assert sequence.current_nodes().count() == 3


CYCLE = [email("intro", delay=0),
         {"key": "route", "type": "branch", "title": "Route",
          "edges": [{"label": "default", "to": "again"}]},
         {"key": "again", "type": "action", "title": "Again", "settings": {"action": "set_context", "key": "n",
                                                                          "value": 1},
          "edges": [{"label": "next", "to": "route"}]}]


@pytest.mark.parametrize("nodes, where, says", [
    ([email("intro", delay=0), {"key": "beam", "type": "teleport"}], "nodes.beam.type", "no node type “teleport”"),
    ([email("intro", delay=0, edges=[{"label": "next", "to": "nowhere"}])], "nodes.intro.edges", "“nowhere”"),
    (CYCLE, "nodes.route.edges", "loop that never waits"),
    ([email("intro", delay=0),
      {"key": "check", "type": "branch", "title": "Clicked?",
       "edges": [{"label": "Clicked", "to": "later", "condition": {"kind": "clicked", "node": "later"}},
                 {"label": "default", "to": None}]},
      email("later")], "nodes.check.conditions", "cannot have run before"),
    ([email("intro", delay="soon")], "nodes.intro.delay_value", ""),
    ([email("intro", delay=0, angle="x" * 501)], "nodes.intro.angle", "500"),
    ([email("intro", delay=0, edges=[{"label": "next", "to": 7}])], "nodes.intro.edges", ""),
    ([email("intro", delay=0), email("intro")], "nodes.intro.key", "Two nodes"),
    ([], "nodes", "at least one node"),
])
def test_a_definition_with_a_problem_is_refused_by_node_and_field_and_creates_nothing(
        client, token, tenant, nodes, where, says):
    response = create(client, token, definition={"nodes": nodes})

    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert where in errors, errors
    assert says in " ".join(errors[where])
    assert not Sequence.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize("field, model", [
    ("agent_id", AgentFactory), ("sender_profile_id", MailboxFactory), ("mailbox_pool_id", MailboxPoolFactory),
])
def test_another_workspaces_agent_sender_or_pool_in_the_settings_is_refused(
        client, token, tenant, other_tenant, field, model):
    theirs = model(tenant=other_tenant)

    response = create(client, token, nodes=linear(), settings={field: theirs.pk})

    assert response.status_code == 422
    assert f"settings.{field}" in response.json()["errors"]
    assert not Sequence.objects.filter(tenant=tenant).exists()


def test_a_goal_that_moves_contacts_to_another_workspaces_sequence_is_refused(client, token, tenant, other_tenant):
    theirs = SequenceFactory(tenant=other_tenant)
    goal = {"key": "booked", "name": "Booked", "condition": {"kind": "meeting_booked"}, "action": "move",
            "sequence": theirs.pk}

    response = create(client, token, nodes=linear(), goals=[goal])

    assert response.status_code == 422
    assert "goals.booked.sequence" in response.json()["errors"]
    assert not Sequence.objects.filter(tenant=tenant).exists()


def test_an_action_on_another_workspaces_tag_is_refused_on_its_node(client, token, tenant, other_tenant):
    theirs = Tag.objects.create(tenant=other_tenant, name="VIP")
    nodes = [email("intro", delay=0),
             {"key": "tag-it", "type": "action", "title": "Tag VIP", "settings": {"action": "add_tag", "tag": theirs.pk}}]

    response = create(client, token, nodes=nodes)

    assert response.status_code == 422
    assert "nodes.tag-it.tag" in response.json()["errors"], response.json()
    assert not Sequence.objects.filter(tenant=tenant).exists()


@pytest.fixture
def running(client, token, tenant, manager):
    """A sequence created through the API with a contact on its version 1."""
    data = create(client, token, nodes=linear()).json()
    sequence = Sequence.objects.get(pk=data["id"])
    Sequence.objects.filter(pk=sequence.pk).update(status=SequenceStatus.ACTIVE)
    sequence.refresh_from_db()
    for _ in range(3):
        enrollment_create(tenant=tenant, sequence=sequence, contact=ContactFactory(tenant=tenant), actor=manager)
    return sequence


def test_saving_with_contacts_on_the_published_version_makes_a_draft_readable_by_number(
        client, token, running):
    url = reverse("api:sequence-definition", args=[running.pk])

    saved = call(client, "put", url, token, {"nodes": linear(email("breakup"))})

    assert saved.status_code == 200, saved.content
    assert (saved.json()["version"], saved.json()["state"], saved.json()["problems"]) == (2, "draft", {})
    detail = reverse("api:sequence", args=[running.pk])
    assert len(call(client, "get", detail, token).json()["definition"]["nodes"]) == 3
    draft = call(client, "get", detail + "?version=2", token).json()["definition"]
    assert draft["state"] == "draft" and draft["nodes"][-1]["key"] == "breakup"
    missing = call(client, "get", detail + "?version=9", token)
    assert missing.status_code == 404 and "version" in missing.json()["errors"]
    assert call(client, "get", detail + f"?version={2**63}", token).status_code == 422


def test_a_draft_keeps_its_problems_and_publishing_it_is_refused_until_they_are_fixed(client, token, running):
    url = reverse("api:sequence-definition", args=[running.pk])
    broken = linear()
    broken[1]["edges"] = [{"label": "connected", "to": "gone"}]

    saved = call(client, "put", url, token, {"nodes": broken}).json()
    refused = call(client, "post", reverse("api:sequence-publish", args=[running.pk]), token, {})

    assert "nodes.call.edges" in saved["problems"]
    assert refused.status_code == 422 and "nodes.call.edges" in refused.json()["errors"]
    running.refresh_from_db()
    assert running.current_version.number == 1

    call(client, "put", url, token, {"nodes": linear(email("breakup"))})
    published = call(client, "post", reverse("api:sequence-publish", args=[running.pk]), token, {})

    assert published.status_code == 200, published.content
    assert (published.json()["version"], published.json()["moved"], published.json()["stayed"]) == (2, 0, 3)
    assert set(Enrollment.objects.filter(sequence=running).values_list("version__number", flat=True)) == {1}
    versions = call(client, "get", reverse("api:sequence-versions", args=[running.pk]), token).json()["versions"]
    assert [(v["number"], v["state"], v["current"], v["open_enrollments"]) for v in versions] == [
        (2, "published", True, 0), (1, "retired", False, 3)]


def test_saving_over_the_published_version_that_nobody_is_on_is_checked_like_a_publish(client, token, tenant):
    sequence_id = create(client, token, nodes=linear()).json()["id"]
    url = reverse("api:sequence-definition", args=[sequence_id])

    refused = call(client, "put", url, token, {"nodes": [email("intro", delay=0, edges=[{"label": "next",
                                                                                        "to": "gone"}])]})
    saved = call(client, "put", url, token, {"nodes": linear(email("breakup"))})

    assert refused.status_code == 422 and "nodes.intro.edges" in refused.json()["errors"]
    assert saved.status_code == 200 and saved.json()["state"] == "published" and saved.json()["version"] == 1
    assert Step.objects.filter(sequence_id=sequence_id).count() == 4


def test_publishing_with_a_node_map_moves_the_contacts_in_flight_to_the_new_nodes(client, token, running):
    renamed = linear()
    renamed[0]["key"] = "hello"
    call(client, "put", reverse("api:sequence-definition", args=[running.pk]), token, {"nodes": renamed})
    url = reverse("api:sequence-publish", args=[running.pk])

    unmapped = call(client, "post", url, token, {"move": "map"})
    wrong = call(client, "post", url, token, {"move": "map", "node_map": {"intro": "nowhere"}})
    published = call(client, "post", url, token, {"move": "map", "node_map": {"intro": "hello"}})

    assert unmapped.status_code == 422
    assert "3 contacts are waiting at ‘Intro’" in unmapped.json()["errors"]["nodes.intro.node_map"][0]
    assert wrong.status_code == 422 and "nowhere" in wrong.json()["errors"]["nodes.intro.node_map"][0]
    assert published.status_code == 200 and published.json()["moved"] == 3
    rows = Enrollment.objects.filter(sequence=running).select_related("version", "current_step")
    assert {(e.version.number, e.current_step.key, e.current_step.version.number) for e in rows} == {(2, "hello", 2)}


@pytest.mark.parametrize("name, method, body", [
    ("api:sequence-definition", "put", {"nodes": [email("intro", delay=0)]}),
    ("api:sequence-publish", "post", {}),
    ("api:sequence-versions", "get", None),
    ("api:sequence-activate", "post", {}),
])
def test_an_outsider_gets_404_for_every_definition_route_and_changes_nothing(
        client, token, outsider_token, name, method, body):
    sequence_id = create(client, token, nodes=linear()).json()["id"]

    response = call(client, method, reverse(name, args=[sequence_id]), outsider_token, body)

    assert response.status_code == 404
    sequence = Sequence.objects.get(pk=sequence_id)
    assert sequence.status == "draft" and sequence.versions.count() == 1
    assert list(sequence.current_nodes().order_by("order").values_list("key", flat=True)) == \
        ["intro", "call", "last-note"]
    detail = call(client, "get", reverse("api:sequence", args=[sequence_id]) + "?version=1", outsider_token)
    assert detail.status_code == 404


def test_the_openapi_document_describes_the_definition(client):
    document = client.get("/api/openapi.json").json()

    create_body = document["paths"]["/api/sequences/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    put = document["paths"]["/api/sequences/{sequence_id}/definition/"]["put"]
    body = put["requestBody"]["content"]["application/json"]["schema"]
    assert {"definition", "nodes", "goals", "exit_rules", "settings", "template"} <= set(create_body["properties"])
    assert {"nodes", "goals", "exit_rules"} <= set(body["properties"])
    shapes = body["$defs"]
    assert {"key", "type", "title", "settings", "edges"} <= set(shapes["Node"]["properties"])
    assert {"label", "to", "condition", "weight", "holdout"} <= set(shapes["Edge"]["properties"])
    assert {"all", "any", "kind", "node", "within_days", "in"} <= set(shapes["Condition"]["properties"])
    assert shapes["NodeSettings"]["additionalProperties"] is True
    assert set(shapes["ExitRules"]["properties"]["reply"]["enum"]) == {"pause", "exit", "exit_positive", "off"}
    assert "/api/sequences/{sequence_id}/publish/" in document["paths"]
    assert "get" in document["paths"]["/api/sequences/{sequence_id}/versions/"]
    params = {p["name"] for p in document["paths"]["/api/sequences/{sequence_id}/"]["get"]["parameters"]}
    assert "version" in params


def test_through_the_api_the_fast_track_flow_is_built_1000_contacts_enroll_and_the_graph_reads_back(
        client, token, tenant):
    from sequences.templates_catalog import FAST_TRACK

    agent, mailbox = AgentFactory(tenant=tenant), MailboxFactory(tenant=tenant)
    tag = Tag.objects.create(tenant=tenant, name="High Intent")
    nodes = json.loads(json.dumps(FAST_TRACK.document["nodes"]).replace('"High Intent"', str(tag.pk)))
    contacts = ContactFactory.create_batch(1000, tenant=tenant)

    created = create(client, token, name="Fast track", nodes=nodes, goals=FAST_TRACK.document["goals"],
                     settings={"agent_id": agent.pk, "sender_profile_id": mailbox.pk})
    assert created.status_code == 201, created.content
    sequence_id = created.json()["id"]
    activated = call(client, "post", reverse("api:sequence-activate", args=[sequence_id]), token, {})
    assert activated.status_code == 200, activated.content
    enrolled = call(client, "post", reverse("api:sequence-enroll", args=[sequence_id]), token,
                    {"contact_ids": [c.pk for c in contacts]})
    graph = call(client, "get", reverse("api:sequence", args=[sequence_id]), token).json()

    assert enrolled.status_code == 200 and enrolled.json()["enrolled"] == 1000, enrolled.content
    assert graph["status"] == "active" and graph["enrollments"]["active"] == 1000
    assert [(n["key"], n["type"]) for n in graph["definition"]["nodes"]] == [
        ("intro", "message"), ("wait-for-click", "wait"), ("clicked-demo", "branch"),
        ("tag-high-intent", "action"), ("calendar", "message"), ("case-study", "message")]
    branch = graph["definition"]["nodes"][2]
    assert [e["to"] for e in branch["edges"]] == ["tag-high-intent", "case-study"]
    assert graph["definition"]["nodes"][3]["settings"]["tag"] == tag.pk
    assert Enrollment.objects.filter(sequence_id=sequence_id, current_step__key="intro", version__number=1).count() \
        == 1000


def test_a_contact_in_the_middle_of_its_step_stays_on_its_version_when_the_others_move(client, token, running):
    busy = Enrollment.objects.filter(sequence=running).order_by("pk").first()
    Enrollment.objects.filter(pk=busy.pk).update(waiting_on="approval", next_run_at=None)
    call(client, "put", reverse("api:sequence-definition", args=[running.pk]), token, {"nodes": linear(email("p-s"))})

    published = call(client, "post", reverse("api:sequence-publish", args=[running.pk]), token, {"move": "map"})

    assert published.status_code == 200 and (published.json()["moved"], published.json()["stayed"]) == (2, 1)
    busy.refresh_from_db()
    assert busy.version.number == 1 and busy.current_step.version_id == busy.version_id
    moved = Enrollment.objects.filter(sequence=running).exclude(pk=busy.pk)
    assert set(moved.values_list("version__number", "current_step__key")) == {(2, "intro")}


def test_publishing_without_a_draft_checks_the_published_version_and_changes_nothing(client, token):
    sequence_id = create(client, token, nodes=linear()).json()["id"]

    published = call(client, "post", reverse("api:sequence-publish", args=[sequence_id]), token, {})
    mapped_alone = call(client, "post", reverse("api:sequence-publish", args=[sequence_id]), token,
                        {"node_map": {"intro": "call"}})

    assert published.status_code == 200 and (published.json()["version"], published.json()["moved"]) == (1, 0)
    assert mapped_alone.status_code == 422 and "node_map" in mapped_alone.json()["errors"]
    assert Sequence.objects.get(pk=sequence_id).versions.count() == 1


def test_saving_a_definition_can_rename_the_sequence_and_an_empty_name_is_keyed_name(client, token, tenant):
    sequence_id = create(client, token, nodes=linear()).json()["id"]
    url = reverse("api:sequence-definition", args=[sequence_id])
    agent = AgentFactory(tenant=tenant)

    renamed = call(client, "put", url, token, {"name": "Renamed", "settings": {"agent_id": agent.pk},
                                               "nodes": linear()})
    empty = call(client, "put", url, token, {"name": "", "nodes": linear()})

    assert renamed.status_code == 200
    sequence = Sequence.objects.get(pk=sequence_id)
    assert (sequence.name, sequence.agent_id) == ("Renamed", agent.pk)
    assert empty.status_code == 422 and "name" in empty.json()["errors"]


def test_a_contact_held_by_a_worker_stays_but_one_parked_by_a_sequence_pause_moves(client, token, running):
    from datetime import timedelta

    from django.utils import timezone

    held, parked, _ = Enrollment.objects.filter(sequence=running).order_by("pk")
    later = timezone.now() + timedelta(minutes=5)
    Enrollment.objects.filter(pk=held.pk).update(lease_owner="worker-1", lease_expires_at=later)
    Enrollment.objects.filter(pk=parked.pk).update(lease_owner="parked", lease_expires_at=later)
    call(client, "put", reverse("api:sequence-definition", args=[running.pk]), token, {"nodes": linear(email("p-s"))})

    published = call(client, "post", reverse("api:sequence-publish", args=[running.pk]), token, {"move": "map"})

    assert (published.json()["moved"], published.json()["stayed"]) == (2, 1)
    assert dict(Enrollment.objects.filter(sequence=running).values_list("pk", "version__number"))[held.pk] == 1
    parked.refresh_from_db()
    assert parked.version.number == 2
