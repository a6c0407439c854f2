"""The processor on graphs: instant nodes (split, action, exit) are resolved in the batch
that reaches them, hop after hop, up to a limit; every node entered counts a visit; a
split's arm is sticky; actions change the contact through the contacts services, only
ever with the enrollment's own tenant's tags, lists and sequences."""
from datetime import timedelta

import pytest

from contacts.models import Contact, ContactEvent, ListMembership, Tag
from messaging.models import OutboundMessage
from sequences.engine import execute, sweep
from sequences.engine import steps as step_types
from sequences.engine.steps.split import arm_for
from sequences.flow import context as flow_context
from sequences.models import Activity, Enrollment
from sequences.services.enrollments import enrollments_bulk_create
from tests.factories import ContactListFactory, SequenceFactory, StepFactory

from .engine_helpers import WEDNESDAY, running_sequence
from .test_engine_structure import statements

pytestmark = pytest.mark.django_db
ENROLLED_AT = WEDNESDAY - timedelta(minutes=1)
STOP = [{"label": "next", "to": None}]


def flow(tenant, *nodes, **fields):
    """An active sequence whose current version has `nodes` ((kind, fields with its key)
    in outline order); returns the sequence and its nodes by key."""
    sequence, _ = running_sequence(tenant, steps=0, **fields)
    made = {}
    for order, (kind, values) in enumerate(nodes, 1):
        made[values["key"]] = StepFactory(sequence=sequence, kind=kind, order=order, title=values["key"], **values)
    return sequence, made


def action(config, **values):
    return "action", {"config": config, **values}


def contacts(tenant, count, prefix="c"):
    return Contact.objects.bulk_create(
        Contact(tenant=tenant, email=f"{prefix}{tenant.pk}-{n}@example.org", first_name=f"C{n}",
                timezone="America/New_York")
        for n in range(count)
    )


def enroll(sequence, people):
    result = enrollments_bulk_create(tenant=sequence.tenant, sequence=sequence, contact_ids=[c.pk for c in people],
                                     actor=None, at=ENROLLED_AT, skip_active_elsewhere=False)
    assert result.enrolled == len(people), result.summary()
    return list(Enrollment.objects.filter(sequence=sequence).order_by("pk"))


def one_batch(now=WEDNESDAY, limit=1000):
    """Claim what is due and run it as exactly one batch."""
    owner = sweep.new_owner()
    ids = sweep.claim_batch(now=now, owner=owner, limit=limit)
    return execute.process_batch(enrollment_ids=ids, lease_owner=owner, now=now)


def split_edges(a="message-a", b="message-b", holdout=0):
    edges = [{"label": "A", "weight": 50, "to": a}, {"label": "B", "weight": 50, "to": b}]
    if holdout:
        edges.append({"label": "holdout", "weight": holdout, "holdout": True})
    return edges


def tagged(tag):
    return set(Contact.tags.through.objects.filter(tag=tag).values_list("contact_id", flat=True))


# ------------------------------------------------------------------ the hop loop

def test_an_action_a_split_and_the_message_they_lead_to_all_run_in_the_batch_that_reached_the_action(
        tenant, other_tenant):
    hot = Tag.objects.create(tenant=tenant, name="High Intent")
    outsiders_hot = Tag.objects.create(tenant=other_tenant, name="High Intent")
    outsider = contacts(other_tenant, 1, "o")[0]
    sequence, nodes = flow(
        tenant,
        action({"action": "add_tag", "tag": hot.pk}, key="tag-hot"),
        ("split", {"key": "ab", "edges": split_edges()}),
        ("message", {"key": "message-a", "edges": STOP}),
        ("message", {"key": "message-b", "edges": STOP}),
    )
    people = contacts(tenant, 40)
    enrollments = enroll(sequence, people)

    report = one_batch()

    assert report["rows"] == 40
    assert tagged(hot) == {c.pk for c in people}
    assert tagged(outsiders_hot) == set() and not outsider.tags.exists()
    sent = dict(OutboundMessage.objects.filter(enrollment__sequence=sequence).values_list("enrollment_id", "step_id"))
    arms = {e.pk: arm_for(e.pk, "ab", split_edges())["label"] for e in enrollments}
    assert sent == {e.pk: nodes[f"message-{arms[e.pk].lower()}"].pk for e in enrollments}
    assert set(arms.values()) == {"A", "B"}
    for e in Enrollment.objects.filter(sequence=sequence):
        assert e.context["_arms"] == {"ab": arms[e.pk]}
        assert e.visits == {"tag-hot": 1, "ab": 1, f"message-{arms[e.pk].lower()}": 1}
    paths = Activity.objects.filter(enrollment__sequence=sequence, kind="path")
    assert {(p.enrollment_id, p.data["arm"]) for p in paths} == set(arms.items())


def test_fifty_instant_nodes_in_a_row_are_resolved_and_the_fifty_first_fails_the_enrollment_visibly(tenant):
    chain = [action({"action": "set_context", "key": f"k{n}", "value": "x"}, key=f"a{n}") for n in range(50)]
    fifty, _ = flow(tenant, *chain, ("message", {"key": "after", "edges": STOP}))
    fifty_one, _ = flow(tenant, *chain, action({"action": "set_context", "key": "k50", "value": "x"}, key="a50"),
                        ("message", {"key": "after", "edges": STOP}))
    ok, = enroll(fifty, contacts(tenant, 1, "fifty"))
    looped, = enroll(fifty_one, contacts(tenant, 1, "fiftyone"))

    one_batch()

    assert OutboundMessage.objects.filter(enrollment=ok).count() == 1
    looped.refresh_from_db()
    assert looped.status == "failed"
    assert looped.current_step.key == "a50"
    assert looped.exit_reason.startswith("more than 50 instant steps in a row")
    failure = Activity.objects.get(enrollment=looped, kind="failed")
    assert failure.detail == "Failed: more than 50 instant steps in a row: check the flow for a loop"
    assert not OutboundMessage.objects.filter(enrollment=looped).exists()


def _graph_batch_statements(tenant, size):
    tag = Tag.objects.create(tenant=tenant, name="Seen")
    sequence, _ = flow(
        tenant,
        action({"action": "add_tag", "tag": tag.pk}, key="tag"),
        ("split", {"key": "ab", "edges": split_edges()}),
        ("message", {"key": "message-a", "edges": STOP}),
        ("message", {"key": "message-b", "edges": STOP}),
    )
    enroll(sequence, contacts(tenant, size))
    owner = sweep.new_owner()
    ids = sweep.claim_batch(now=WEDNESDAY, owner=owner, limit=size)
    with statements() as sent:
        report = execute.process_batch(enrollment_ids=ids, lease_owner=owner, now=WEDNESDAY)
    assert report["rows"] == size
    assert OutboundMessage.objects.filter(enrollment__sequence=sequence).count() == size
    assert len(tagged(tag)) == size
    return sent


def test_a_graph_batch_with_an_action_and_a_split_runs_as_many_statements_for_2n_enrollments_as_for_n(
        tenant, other_tenant, settings):
    from tests.factories import TenantFactory

    settings.PROCESSOR_KICK_DELIVERY = False
    _graph_batch_statements(TenantFactory(), 6)  # what a process looks up once
    small = _graph_batch_statements(tenant, 60)
    large = _graph_batch_statements(other_tenant, 120)

    assert len(large) == len(small), "\n".join(large)


# ------------------------------------------------------------------ visits

def test_a_loop_through_a_delayed_node_sends_once_per_visit_and_stops_at_the_nodes_maximum(tenant):
    sequence, nodes = flow(
        tenant,
        ("message", {"key": "nudge", "config": {"max_visits": 3}, "edges": [{"label": "next", "to": "again"}]}),
        action({"action": "set_context", "key": "looped", "value": "yes"}, key="again", delay_value=3,
               edges=[{"label": "next", "to": "nudge"}]),
    )
    e, = enroll(sequence, contacts(tenant, 1))

    at = WEDNESDAY
    for _ in range(4):
        one_batch(now=at)
        at += timedelta(days=3, minutes=1)

    messages = OutboundMessage.objects.filter(enrollment=e).order_by("step_pass")
    assert [m.idempotency_key for m in messages] == [f"{e.pk}:{nodes['nudge'].pk}:{n}" for n in (1, 3, 5)]
    e.refresh_from_db()
    assert e.status == "failed"
    assert e.visits == {"nudge": 3, "again": 3}
    failure = Activity.objects.get(enrollment=e, kind="failed")
    assert "“nudge” would be entered a 4th time" in failure.detail
    assert "at most 3 times" in failure.detail


# ------------------------------------------------------------------ split

def test_a_fifty_fifty_split_over_ten_thousand_enrollments_lands_within_two_points_and_is_sticky():
    arms = split_edges()
    first = [arm_for(n, "ab", arms)["label"] for n in range(1, 10_001)]
    again = [arm_for(n, "ab", arms)["label"] for n in range(1, 10_001)]

    assert 4800 <= first.count("A") <= 5200
    assert first == again
    # Another node splits the same enrollments independently.
    other = [arm_for(n, "cd", arms)["label"] for n in range(1, 10_001)]
    assert 4800 <= sum(a == b for a, b in zip(first, other)) <= 5200


def test_a_split_through_the_processor_takes_each_enrollments_own_arm_and_its_holdout_exits(tenant):
    edges = split_edges(holdout=10)
    sequence, nodes = flow(
        tenant,
        ("split", {"key": "ab", "edges": edges}),
        ("message", {"key": "message-a", "edges": STOP}),
        ("message", {"key": "message-b", "edges": STOP}),
    )
    enrollments = enroll(sequence, contacts(tenant, 300))

    one_batch()

    expected = {e.pk: arm_for(e.pk, "ab", edges)["label"] for e in enrollments}
    counts = {label: list(expected.values()).count(label) for label in ("A", "B", "holdout")}
    assert 110 <= counts["A"] <= 160 and 110 <= counts["B"] <= 160 and 10 <= counts["holdout"] <= 50
    for e in Enrollment.objects.filter(sequence=sequence):
        assert e.context["_arms"]["ab"] == expected[e.pk]
        if expected[e.pk] == "holdout":
            assert (e.status, e.exit_reason) == ("exited", "holdout")
        else:
            assert e.status == "completed"
            assert OutboundMessage.objects.get(enrollment=e).step_id == nodes[f"message-{expected[e.pk].lower()}"].pk
    held_out = [pk for pk, label in expected.items() if label == "holdout"]
    assert not OutboundMessage.objects.filter(enrollment_id__in=held_out).exists()


def test_a_splits_settings_need_two_arms_positive_whole_weights_and_a_target_for_every_arm_but_the_holdout(tenant):
    split = step_types.step_type("split")
    sequence = SequenceFactory(tenant=tenant)

    def problems(edges):
        return split.settings_problems(StepFactory(sequence=sequence, kind="split", edges=edges), tenant=tenant)

    assert problems(split_edges(holdout=5)) == {}
    assert problems([{"label": "A", "weight": 1, "to": "x"}]) == {"edges": ["A split needs at least two arms."]}
    assert problems([{"label": "A", "weight": 0, "to": "x"}, {"label": "B", "weight": 2.5, "to": "y"}]) == {
        "edges": ["Arm “A”: the weight is a whole number of at least 1.",
                  "Arm “B”: the weight is a whole number of at least 1."]}
    assert problems([{"label": "A", "weight": 1}, {"label": "B", "weight": 1, "to": "y"}]) == {
        "edges": ["Arm “A”: choose the node it leads to."]}


# ------------------------------------------------------------------ actions

def _through_action(tenant, config, people=2):
    """Enroll `people` (a number of new contacts, or contacts) in a flow of `config`'s
    action then a message, and run one batch."""
    sequence, nodes = flow(tenant, action(config, key="act"), ("message", {"key": "after", "edges": STOP}))
    if isinstance(people, int):
        people = contacts(tenant, people, f"s{sequence.pk}-")
    enrollments = enroll(sequence, people)
    one_batch()
    return sequence, [Enrollment.objects.get(pk=e.pk) for e in enrollments]


def _went_on(enrollments):
    for e in enrollments:
        # The message queued at once (auto-send) and nothing follows it: completed.
        assert e.status == "completed" and e.current_step.key == "after"
        assert OutboundMessage.objects.filter(enrollment=e).exists()


def test_add_and_remove_tag_actions_change_the_tag_of_the_enrolled_contacts_only(tenant):
    vip = Tag.objects.create(tenant=tenant, name="VIP")
    bystander = contacts(tenant, 1, "bystander")[0]
    bystander.tags.add(vip)
    _, added = _through_action(tenant, {"action": "add_tag", "tag": vip.pk})
    assert tagged(vip) == {bystander.pk} | {e.contact_id for e in added}
    _went_on(added)
    assert Activity.objects.get(enrollment=added[0], kind="action").detail == "Added tag “VIP”"

    untagging = contacts(tenant, 2, "untag")
    for person in untagging:
        person.tags.add(vip)
    _, removed = _through_action(tenant, {"action": "remove_tag", "tag": vip.pk}, people=untagging)
    assert not {e.contact_id for e in removed} & tagged(vip)
    assert bystander.pk in tagged(vip)
    _went_on(removed)


def test_a_set_field_action_sets_a_built_in_column_or_a_custom_field_keeping_the_others(tenant):
    _, built_in = _through_action(tenant, {"action": "set_field", "field": "company", "value": "Acme"})
    assert set(Contact.objects.filter(pk__in=[e.contact_id for e in built_in]).values_list("company", flat=True)) \
        == {"Acme"}
    _went_on(built_in)

    person = contacts(tenant, 1, "custom")[0]
    Contact.objects.filter(pk=person.pk).update(custom_fields={"region": "EU"})
    _through_action(tenant, {"action": "set_field", "field": "plan", "value": "pro"}, people=[person])
    person.refresh_from_db()
    assert person.custom_fields == {"region": "EU", "plan": "pro"}


def test_add_to_and_remove_from_list_actions_go_through_the_list_services(tenant):
    customers = ContactListFactory(tenant=tenant, name="Customers")
    _, added = _through_action(tenant, {"action": "add_to_list", "list": customers.pk})
    assert set(ListMembership.objects.filter(contact_list=customers).values_list("contact_id", flat=True)) == {
        e.contact_id for e in added}
    _went_on(added)

    _through_action(tenant, {"action": "remove_from_list", "list": customers.pk},
                    people=[Contact.objects.get(pk=added[0].contact_id)])
    assert set(ListMembership.objects.filter(contact_list=customers).values_list("contact_id", flat=True)) == {
        added[1].contact_id}


def test_a_lead_status_action_records_the_fact_and_a_converted_lead_leaves_every_sequence(tenant):
    _, qualified = _through_action(tenant, {"action": "set_lead_status", "status": "qualified"})
    _went_on(qualified)
    assert set(Contact.objects.filter(pk__in=[e.contact_id for e in qualified]).values_list("lead_status", flat=True)) \
        == {"qualified"}
    assert ContactEvent.objects.filter(kind="status_changed", contact_id=qualified[0].contact_id,
                                       data__to="qualified").exists()

    elsewhere, _ = flow(tenant, ("message", {"key": "other", "delay_value": 5}))
    sequence, _ = flow(tenant, action({"action": "set_lead_status", "status": "converted"}, key="act"),
                       ("message", {"key": "after", "edges": STOP}))
    person = contacts(tenant, 1, "convert")[0]
    other_enrollment, = enroll(elsewhere, [person])
    converted, = enroll(sequence, [person])
    one_batch()

    converted.refresh_from_db()
    other_enrollment.refresh_from_db()
    assert (converted.status, converted.exit_reason) == ("exited", "converted")
    assert not OutboundMessage.objects.filter(enrollment=converted).exists()
    assert (other_enrollment.status, other_enrollment.exit_reason) == ("unenrolled", "converted")
    assert Contact.objects.get(pk=person.pk).lead_status == "converted"


def test_a_move_action_leaves_this_sequence_and_enrolls_through_the_enrollment_rules_or_records_the_refusal(tenant):
    target, _ = flow(tenant, ("message", {"key": "welcome", "delay_value": 1}), name="Nurture")
    sequence, _ = flow(tenant, action({"action": "move_to_sequence", "sequence": target.pk}, key="act"),
                       ("message", {"key": "after", "edges": STOP}))
    mover, refused = contacts(tenant, 2, "mover")
    Contact.objects.filter(pk=refused.pk).update(do_not_contact=False, lead_status="new")
    # A finished enrollment in a sequence that never re-enrolls: the service refuses.
    target.reenroll_policy = "never"
    target.save(update_fields=["reenroll_policy"])
    Enrollment.objects.create(tenant=tenant, sequence=target, contact=refused, status="completed",
                              version_id=target.current_version_id, finished_at=ENROLLED_AT - timedelta(days=1))
    left = enroll(sequence, [mover, refused])

    one_batch()

    for e in left:
        e.refresh_from_db()
        assert (e.status, e.exit_reason) == ("exited", "moved to Nurture")
    moved = Enrollment.objects.get(sequence=target, contact=mover)
    assert moved.status == "active" and moved.current_step.key == "welcome"
    assert not Enrollment.objects.filter(sequence=target, contact=refused, status="active").exists()
    refusal = Activity.objects.get(enrollment=left[1], kind="action", data__refused__isnull=False)
    assert refusal.detail.startswith("Not enrolled in Nurture:") and "re-enrollment" in refusal.detail


def test_a_set_context_action_writes_within_the_bounds_and_fails_visibly_past_them(tenant):
    _, written = _through_action(tenant, {"action": "set_context", "key": "source", "value": "webinar"})
    _went_on(written)
    assert written[0].context == {"source": "webinar"}

    sequence, _ = flow(tenant, action({"action": "set_context", "key": "one_more", "value": "x"}, key="act"),
                       ("message", {"key": "after", "edges": STOP}))
    full, = enroll(sequence, contacts(tenant, 1, "full"))
    Enrollment.objects.filter(pk=full.pk).update(context={f"k{n}": n for n in range(50)})
    one_batch()
    full.refresh_from_db()
    assert full.status == "failed"
    assert "at most 50 values" in Activity.objects.get(enrollment=full, kind="failed").detail


def test_the_context_bound_is_fifty_values_of_five_hundred_characters_and_sixteen_kilobytes():
    assert flow_context.merged({"a": 1}, {"b": "x" * 500}) == {"a": 1, "b": "x" * 500}
    with pytest.raises(flow_context.ContextRefused, match="at most 500 characters"):
        flow_context.merged({}, {"b": "x" * 501})
    with pytest.raises(flow_context.ContextRefused, match="at most 50 values"):
        flow_context.merged({f"k{n}": 1 for n in range(50)}, {"k50": 1})
    with pytest.raises(flow_context.ContextRefused, match="reserved"):
        flow_context.merged({}, {"_arms": "A"})
    with pytest.raises(flow_context.ContextRefused, match="16 KB"):
        flow_context.merged({f"k{n}": "é" * 400 for n in range(30)}, {})
    # The engine's own keys do not count against the fifty.
    assert flow_context.with_arm({f"k{n}": 1 for n in range(50)}, "ab", "A")["_arms"] == {"ab": "A"}


def test_an_exit_action_and_an_exit_node_end_the_flow_as_exited_with_their_reason(tenant):
    _, by_action = _through_action(tenant, {"action": "exit", "reason": "not a fit"})
    assert {(e.status, e.exit_reason) for e in by_action} == {("exited", "not a fit")}
    assert not OutboundMessage.objects.filter(enrollment__in=by_action).exists()

    sequence, _ = flow(tenant, ("exit", {"key": "done", "config": {"reason": "nurture finished"}}),
                       ("message", {"key": "after", "edges": STOP}))
    ended = enroll(sequence, contacts(tenant, 3, "exit"))
    one_batch()
    for e in ended:
        e.refresh_from_db()
        assert (e.status, e.exit_reason) == ("exited", "nurture finished")
        assert Activity.objects.get(enrollment=e, kind="exited").detail == "Exited: nurture finished"


# ------------------------------------------------------------------ the outsider tenant

@pytest.mark.parametrize("config_of", [
    lambda other: {"action": "add_tag", "tag": Tag.objects.create(tenant=other, name="Theirs").pk},
    lambda other: {"action": "remove_tag", "tag": Tag.objects.create(tenant=other, name="Theirs").pk},
    lambda other: {"action": "add_to_list", "list": ContactListFactory(tenant=other).pk},
    lambda other: {"action": "remove_from_list", "list": ContactListFactory(tenant=other).pk},
    lambda other: {"action": "move_to_sequence", "sequence": running_sequence(other, steps=1)[0].pk},
], ids=["add_tag", "remove_tag", "add_to_list", "remove_from_list", "move_to_sequence"])
def test_another_tenants_tag_list_or_sequence_is_refused_in_settings_and_never_used_by_a_run(
        tenant, other_tenant, config_of):
    config = config_of(other_tenant)
    node = StepFactory(sequence=SequenceFactory(tenant=tenant), kind="action", config=config)
    problems = step_types.step_type("action").settings_problems(node, tenant=tenant)
    assert set(problems) == {next(key for key in config if key != "action")}

    outsider = contacts(other_tenant, 1, "theirs")[0]
    before = (set(outsider.tags.values_list("pk", flat=True)), ListMembership.objects.count(),
              Enrollment.objects.filter(tenant=other_tenant).count())
    _, failed = _through_action(tenant, config, people=1)

    assert failed[0].status == "failed"
    assert "does not exist" in Activity.objects.get(enrollment=failed[0], kind="failed").detail
    assert not Contact.tags.through.objects.filter(contact__tenant=tenant).exists()
    assert before == (set(outsider.tags.values_list("pk", flat=True)), ListMembership.objects.count(),
                      Enrollment.objects.filter(tenant=other_tenant).count())


def test_an_actions_settings_name_what_is_wrong(tenant):
    step = step_types.step_type("action")
    sequence = SequenceFactory(tenant=tenant)

    def problems(config):
        return step.settings_problems(StepFactory(sequence=sequence, kind="action", config=config), tenant=tenant)

    assert set(problems({"action": "launch_rockets"})) == {"action"}
    assert problems({"action": "set_field", "field": "email", "value": "x@example.org"}) == {
        "value": ["A flow cannot set “email”."]}
    assert problems({"action": "set_field", "field": "score_band", "value": "hot"}) == {}
    assert problems({"action": "set_lead_status", "status": "won"}).keys() == {"status"}
    assert problems({"action": "set_context", "key": "_arms", "value": "A"}).keys() == {"key"}
    assert problems({"action": "move_to_sequence", "sequence": sequence.pk}) == {
        "sequence": ["Choose another sequence than this one."]}
    own = Tag.objects.create(tenant=tenant, name="Ours")
    assert problems({"action": "add_tag", "tag": own.pk}) == {}


def test_a_notify_owner_action_tells_the_contacts_owner_in_the_app_else_the_sequences(tenant, rep, other_tenant):
    from scendcore.models import Notification

    owned, unowned = contacts(tenant, 2, "notify")
    Contact.objects.filter(pk=owned.pk).update(owner=rep, company="Acme")
    sequence, enrollments = _through_action(tenant, {"action": "notify_owner", "message": "hot lead, call today"},
                                            people=[Contact.objects.get(pk=owned.pk), unowned])

    notes = {(n.user_id, n.text, n.link) for n in Notification.objects.all()}
    assert notes == {
        (rep.pk, "C0 (Acme): hot lead, call today", f"/contacts/{owned.pk}/"),
        (sequence.owner_id, "C1: hot lead, call today", f"/contacts/{unowned.pk}/"),
    }
    assert all(n.tenant_id == tenant.pk for n in Notification.objects.all())
    _went_on(enrollments)


def test_a_notification_reaches_only_members_of_the_workspace(tenant, rep, outsider):
    from scendcore.models import Notification
    from scendcore.notifications import notifications_send

    assert notifications_send(tenant=tenant, notes=[(rep.pk, "yours", "/x/"), (outsider.pk, "not theirs", "/y/")]) == 1
    assert list(Notification.objects.values_list("user_id", "text")) == [(rep.pk, "yours")]
