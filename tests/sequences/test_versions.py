"""Versions: edits of a sequence with contacts in flight go to a draft; publishing it is
refused with the problems on each node, keeps the contacts on their version ("stay") or
moves them with a node map ("map"); old versions stay readable, with a diff."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from messaging.models import OutboundMessage
from scendcore.models import AuditEntry
from sequences import selectors
from sequences.models import Activity, Enrollment, Sequence, SequenceVersion, Step
from sequences.services import steps as step_service
from sequences.services import versions

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db


@pytest.fixture
def flight(tenant):
    """A running sequence Intro → Case study → Break-up, with 3 contacts waiting at Case
    study (Intro sent) and 2 at Break-up."""
    sequence, (intro, case, breakup) = running_sequence(tenant)
    for step, title in ((intro, "Intro"), (case, "Case study"), (breakup, "Break-up")):
        Step.objects.filter(pk=step.pk).update(title=title)
        step.title = title
    at_case = [due_enrollment(sequence, case, at=WEDNESDAY + timedelta(days=1), step_pass=1) for _ in range(3)]
    at_breakup = [due_enrollment(sequence, breakup, at=WEDNESDAY + timedelta(days=3)) for _ in range(2)]
    return sequence, (intro, case, breakup), at_case, at_breakup


def replace_case_study(sequence, case, actor):
    """In the draft: Case study removed, "Case study v2" added in its place."""
    step_service.step_delete(tenant=sequence.tenant, step=case, actor=actor)
    added = step_service.step_add(tenant=sequence.tenant, sequence=sequence, actor=actor,
                                  values={"delay_value": 2, "job_type": "follow_up"})
    Step.objects.filter(pk=added.pk).update(title="Case study v2")
    step_service.step_move(tenant=sequence.tenant, step=added, position=2, actor=actor)
    return Step.objects.get(pk=added.pk)


def state(enrollments):
    return [Enrollment.objects.values_list("version__number", "current_step__key", "step_pass", "next_run_at")
            .get(pk=e.pk) for e in enrollments]


def fresh(sequence):
    return Sequence.objects.select_related("current_version").get(pk=sequence.pk)


# ---------------------------------------------------------------- refusals

def test_a_draft_with_problems_is_refused_with_them_on_each_node_and_nothing_changes(flight, rep):
    sequence, (intro, case, breakup), at_case, _ = flight
    versions.definition_save(tenant=sequence.tenant, sequence=sequence, actor=rep, document={"nodes": [
        {"key": intro.key, "type": "message", "title": "Intro", "edges": [{"label": "next", "to": "gone"}]},
        {"key": breakup.key, "type": "teleport", "title": "Break-up"},
    ]})
    before = state(at_case)

    with pytest.raises(versions.PublishRefused) as refused:
        versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep, move="map",
                                 node_map={case.key: breakup.key})

    problems = refused.value.problems
    assert "“gone”" in problems[intro.key]["edges"][0]
    assert "teleport" in problems[breakup.key]["type"][0]
    assert f"nodes.{intro.key}.edges" in refused.value.message_dict
    sequence = fresh(sequence)
    assert (sequence.current_version.number, versions.draft_of(sequence).number) == (1, 2)
    assert state(at_case) == before
    assert not AuditEntry.objects.filter(action="version_published").exists()


def test_a_removed_node_holding_enrollments_must_be_mapped(flight, rep):
    sequence, (intro, case, breakup), at_case, _ = flight
    replace_case_study(sequence, case, rep)
    before = state(at_case)

    with pytest.raises(versions.PublishRefused) as refused:
        versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep, move="map")

    assert refused.value.problems == {case.key: {"node_map": [
        "3 contacts are waiting at ‘Case study’, which this version removes: choose where they continue."]}}
    assert state(at_case) == before
    assert fresh(sequence).current_version.number == 1


def test_a_node_map_to_a_node_the_new_version_lacks_is_refused(flight, rep):
    sequence, (intro, case, breakup), at_case, _ = flight
    replace_case_study(sequence, case, rep)

    with pytest.raises(ValidationError, match="not a node of the new version"):
        versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep, move="map",
                                 node_map={case.key: case.key})


def test_another_tenant_cannot_publish_or_preview_the_draft(flight, rep, other_tenant):
    sequence, (intro, case, breakup), _, _ = flight
    replace_case_study(sequence, case, rep)

    with pytest.raises(Sequence.DoesNotExist):
        versions.version_publish(tenant=other_tenant, sequence=sequence, actor=rep)
    with pytest.raises(ValidationError):
        versions.publish_preview(tenant=other_tenant, sequence=sequence)
    assert fresh(sequence).current_version.number == 1


# ---------------------------------------------------------------- stay

def test_stay_keeps_enrollments_on_their_version_which_keeps_running_its_own_nodes(flight, rep):
    sequence, (intro, case, breakup), at_case, at_breakup = flight
    new_case = replace_case_study(sequence, case, rep)
    before = state(at_case + at_breakup)

    version, moved = versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep)

    assert (moved, version.number, version.state) == (0, 2, "published")
    assert SequenceVersion.objects.get(sequence=sequence, number=1).state == "retired"
    assert fresh(sequence).current_version_id == version.pk
    assert state(at_case + at_breakup) == before
    sweep_inline(now=WEDNESDAY + timedelta(days=1))
    sent = OutboundMessage.objects.filter(enrollment__in=at_case)
    assert sorted(sent.values_list("step_id", flat=True)) == [case.pk] * 3
    assert not OutboundMessage.objects.filter(step=new_case).exists()
    assert {e.current_step_id for e in Enrollment.objects.filter(pk__in=[e.pk for e in at_case])} == {breakup.pk}


def test_a_new_enrollment_enters_the_published_version(flight, rep):
    from sequences.services.enrollments import enrollment_create
    from tests.factories import ContactFactory

    sequence, (intro, case, breakup), _, _ = flight
    replace_case_study(sequence, case, rep)
    version, _ = versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep)

    enrollment = enrollment_create(tenant=sequence.tenant, sequence=fresh(sequence),
                                   contact=ContactFactory(tenant=sequence.tenant), actor=rep)

    assert enrollment.version_id == version.pk
    assert enrollment.current_step.version_id == version.pk and enrollment.current_step.key == intro.key


# ---------------------------------------------------------------- map

def test_map_moves_every_enrollment_with_the_counts_the_preview_showed(flight, rep):
    sequence, (intro, case, breakup), at_case, at_breakup = flight
    new_case = replace_case_study(sequence, case, rep)
    due = {e.pk: e.next_run_at for e in at_case + at_breakup}
    preview = versions.publish_preview(tenant=sequence.tenant, sequence=sequence,
                                       node_map={case.key: new_case.key})
    sentences = {group.key: group.sentence for group in preview.groups}
    assert sentences == {case.key: "3 contacts waiting at ‘Case study’ move to ‘Case study v2’.",
                         breakup.key: "2 contacts waiting at ‘Break-up’ move to ‘Break-up’."}
    suggestion = next(g for g in preview.groups if g.key == case.key).suggestion
    assert suggestion == breakup.key  # the next kept node after it in the old outline

    version, moved = versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep, move="map",
                                              node_map={case.key: new_case.key})

    assert moved == preview.moving == 5
    assert state(at_case) == [(2, new_case.key, 2, due[e.pk]) for e in at_case]
    assert state(at_breakup) == [(2, breakup.key, 2, due[e.pk]) for e in at_breakup]
    new_breakup = Step.objects.get(version=version, key=breakup.key)
    assert all(Enrollment.objects.get(pk=e.pk).current_step_id == new_breakup.pk for e in at_breakup)
    rows = Activity.objects.filter(kind="moved", enrollment__in=at_case)
    assert rows.count() == 3 and {row.step_id for row in rows} == {new_case.pk}
    entry = AuditEntry.objects.get(action="version_published", object_id=str(sequence.pk))
    assert entry.changes["enrollments_moved"] == 5 and entry.changes["node_map"] == {case.key: new_case.key}
    # They continue on the new version's nodes, each once.
    sweep_inline(now=WEDNESDAY + timedelta(days=1))
    assert sorted(OutboundMessage.objects.filter(enrollment__in=at_case).values_list("step_id", flat=True)) == [
        new_case.pk] * 3


def test_a_removed_node_may_be_mapped_to_finish(flight, rep):
    sequence, (intro, case, breakup), at_case, _ = flight
    replace_case_study(sequence, case, rep)

    versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep, move="map",
                             node_map={case.key: None})

    assert {e.status for e in Enrollment.objects.filter(pk__in=[e.pk for e in at_case])} == {"completed"}


def test_map_leaves_work_in_progress_on_its_version_and_moves_the_others(flight, rep):
    sequence, (intro, case, breakup), at_case, at_breakup = flight
    held, drafting = at_breakup[0], at_breakup[1]
    Enrollment.objects.filter(pk=held.pk).update(lease_expires_at=timezone.now() + timedelta(hours=1),
                                                 lease_owner="worker-1")
    Enrollment.objects.filter(pk=drafting.pk).update(waiting_on="approval", next_run_at=None)
    step_service.step_update(tenant=sequence.tenant, step=case, actor=rep, values={"delay_value": 5})

    _, moved = versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep, move="map")

    stayed = Enrollment.objects.filter(pk__in=[held.pk, drafting.pk])
    assert {(e.version.number, e.current_step_id) for e in stayed} == {(1, breakup.pk)}
    others = Enrollment.objects.filter(sequence=sequence).exclude(pk__in=[held.pk, drafting.pk])
    assert moved == others.count() and {e.version.number for e in others} == {2}


# ---------------------------------------------------------------- list and diff

def test_the_versions_list_tells_state_publisher_and_contacts_pinned(flight, rep, other_tenant):
    sequence, (intro, case, breakup), _, _ = flight
    replace_case_study(sequence, case, rep)
    versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep)

    listed = selectors.version_list(tenant=sequence.tenant, sequence=sequence)

    assert [(v.number, v.state, v.pinned, v.published_by) for v in listed] == [
        (2, "published", 0, rep), (1, "retired", 5, None)]
    assert selectors.version_list(tenant=other_tenant, sequence=sequence) == []


def test_the_diff_lists_nodes_added_removed_and_changed(flight, rep):
    sequence, (intro, case, breakup), _, _ = flight
    new_case = replace_case_study(sequence, case, rep)
    step_service.step_update(tenant=sequence.tenant, step=breakup, actor=rep, values={"delay_value": 9})
    draft = versions.draft_of(sequence)

    diff = selectors.version_diff(tenant=sequence.tenant, old=fresh(sequence).current_version, new=draft)

    assert [node.key for node in diff.added] == [new_case.key]
    assert [node.key for node in diff.removed] == [case.key]
    assert [(new.key, fields) for old, new, fields in diff.changed] == [(breakup.key, ["delay_value"])]
    same = selectors.version_diff(tenant=sequence.tenant, old=draft, new=draft)
    assert not same


# ---------------------------------------------------------------- pages

def url(name, *args):
    return reverse(f"sequences:{name}", args=args)


def test_the_builder_says_a_draft_is_being_edited(rep_client, flight, rep):
    sequence, (intro, case, breakup), _, _ = flight
    step_service.step_update(tenant=sequence.tenant, step=case, actor=rep, values={"delay_value": 5})

    page = rep_client.get(url("sequence-detail", sequence.pk)).content.decode()

    assert "Editing draft v2 (published: v1)" in page and url("version-publish", sequence.pk) in page


def test_the_publish_page_shows_the_move_preview_and_refuses_with_422(rep_client, flight, rep):
    sequence, (intro, case, breakup), at_case, _ = flight
    new_case = replace_case_study(sequence, case, rep)

    page = rep_client.get(url("version-publish", sequence.pk)).content.decode()
    assert "3 contacts waiting at ‘Case study’ (removed in this version) continue at" in page
    assert "2 contacts waiting at ‘Break-up’ move to ‘Break-up’." in page

    refused = rep_client.post(url("version-publish", sequence.pk), {"move": "map", f"map-{case.key}": ""})
    assert refused.status_code == 422
    assert "which this version removes: choose where they continue" in refused.content.decode()
    assert fresh(sequence).current_version.number == 1

    done = rep_client.post(url("version-publish", sequence.pk), {"move": "map", f"map-{case.key}": new_case.key})
    assert done.status_code == 302
    assert {e.current_step.key for e in Enrollment.objects.filter(pk__in=[e.pk for e in at_case])} == {new_case.key}


def test_the_publish_page_shows_the_problems_on_their_node_with_422(rep_client, flight, rep):
    sequence, (intro, case, breakup), _, _ = flight
    versions.definition_save(tenant=sequence.tenant, sequence=sequence, actor=rep, document={"nodes": [
        {"key": intro.key, "type": "message", "title": "Intro", "edges": [{"label": "next", "to": "gone"}]},
        {"key": case.key, "type": "message", "title": "Case study"},
        {"key": breakup.key, "type": "message", "title": "Break-up"},
    ]})

    response = rep_client.post(url("version-publish", sequence.pk), {"move": "stay"}, HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert response.status_code == 422
    assert page.index(f'id="node-{intro.key}"') < page.index("“gone”") < page.index(f'id="node-{case.key}"')


def test_the_versions_page_and_an_old_version_with_its_diff(rep_client, flight, rep):
    sequence, (intro, case, breakup), _, _ = flight
    new_case = replace_case_study(sequence, case, rep)
    versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep)

    listing = rep_client.get(url("version-list", sequence.pk)).content.decode()
    assert url("version-detail", sequence.pk, 1) in listing and "Retired" in listing

    old = rep_client.get(url("version-detail", sequence.pk, 1)).content.decode()
    outline, diff = old.split('id="version-diff"')
    assert "Case study" in outline and "Case study v2" not in outline
    added, removed = diff.split("<h3>Added</h3>")[1].split("<h3>Removed</h3>")
    assert "Case study v2" in added and new_case.key in added
    assert "Case study" in removed and case.key in removed and "Case study v2" not in removed


def test_every_version_page_is_404_for_another_tenant(client, outsider, flight, rep):
    sequence, (intro, case, breakup), _, _ = flight
    replace_case_study(sequence, case, rep)
    client.force_login(outsider)

    for path in (url("version-list", sequence.pk), url("version-detail", sequence.pk, 1),
                 url("version-publish", sequence.pk)):
        assert client.get(path).status_code == 404
    assert client.post(url("version-publish", sequence.pk), {"move": "stay"}).status_code == 404
    assert fresh(sequence).current_version.number == 1


def test_a_version_number_the_sequence_lacks_is_404(rep_client, flight):
    sequence = flight[0]
    assert rep_client.get(url("version-detail", sequence.pk, 7)).status_code == 404


def test_goals_and_exit_rules_set_while_a_draft_is_open_apply_now_and_survive_its_publish(flight, rep):
    from sequences.services.exit_rules import exit_rules_set
    from sequences.services.goals import goals_set

    sequence, (intro, case, breakup), _, _ = flight
    step_service.step_update(tenant=sequence.tenant, step=case, actor=rep, values={"delay_value": 5})  # a draft
    goal = {"key": "booked", "name": "Booked", "condition": {"kind": "meeting_booked"}, "action": "exit"}

    goals_set(tenant=sequence.tenant, sequence=sequence, goals=[goal], actor=rep)
    exit_rules_set(tenant=sequence.tenant, sequence=sequence, values={"reply": "exit"}, actor=rep)
    assert [g["key"] for g in fresh(sequence).current_version.goals] == ["booked"]  # at once
    version, _ = versions.version_publish(tenant=sequence.tenant, sequence=sequence, actor=rep)

    assert [g["key"] for g in version.goals] == ["booked"] and version.exit_rules.get("reply") == "exit"
