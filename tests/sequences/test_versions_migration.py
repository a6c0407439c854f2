"""The data migration turns every sequence made before versions into version 1 of itself:
its steps a chain of nodes step-1..N, its enrollments pinned to it on the same step, pass
and due time; the processor then continues them exactly as before."""
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from messaging.models import OutboundMessage
from sequences.flow.navigator import graph_of
from sequences.models import Enrollment, Sequence, SequenceVersion, Step
from tests.factories import AgentFactory, ContactFactory, MailboxFactory, TenantFactory, manager_of

from .engine_helpers import WEDNESDAY, sweep_inline

BEFORE_VERSIONS = "0012_sequence_tallies"


def _state(executor, sequences_migration):
    """Every app at its latest migration, sequences at `sequences_migration`."""
    leaves = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "sequences"]
    return leaves + [("sequences", sequences_migration)]


def _pre_versions_sequence(apps, tenant, *, steps, name):
    """A sequence with `steps` steps, written as the code before versions wrote them."""
    OldSequence, OldStep = apps.get_model("sequences", "Sequence"), apps.get_model("sequences", "Step")
    sequence = OldSequence.objects.create(
        tenant_id=tenant.pk, name=name, status="active", agent_id=AgentFactory(tenant=tenant, autonomy="auto_send").pk,
        sender_profile_id=MailboxFactory(tenant=tenant).pk, owner_id=manager_of(tenant).pk,
    )
    made = [OldStep.objects.create(tenant_id=tenant.pk, sequence=sequence, order=order, channel="email",
                                   job_type="initial_outreach" if order == 1 else "follow_up",
                                   delay_value=0 if order == 1 else 2, delay_unit="days")
            for order in range(1, steps + 1)]
    return sequence, made


@pytest.mark.django_db(transaction=True)
def test_sequences_made_before_versions_become_version_1_and_run_on_unchanged():
    executor = MigrationExecutor(connection)
    before = _state(executor, BEFORE_VERSIONS)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        OldEnrollment = old.get_model("sequences", "Enrollment")
        tenant = TenantFactory(default_timezone="America/New_York")
        outsider = TenantFactory()
        sequence, steps = _pre_versions_sequence(old, tenant, steps=3, name="Outbound")
        theirs, their_steps = _pre_versions_sequence(old, outsider, steps=2, name="Theirs")
        due = WEDNESDAY - timedelta(minutes=1)
        later = WEDNESDAY + timedelta(days=1)

        def enroll(tenant, sequence, step, **fields):
            return OldEnrollment.objects.create(
                tenant_id=tenant.pk, sequence=sequence, contact_id=ContactFactory(tenant=tenant).pk,
                current_step=step, enrolled_at=WEDNESDAY - timedelta(days=3), **fields)

        at_second = enroll(tenant, sequence, steps[1], step_pass=1, next_run_at=due)
        at_third = enroll(tenant, sequence, steps[2], step_pass=4, next_run_at=later, status="paused",
                          pause_reason="reply")
        finished = enroll(tenant, sequence, None, status="completed")
        their_one = enroll(outsider, theirs, their_steps[1], step_pass=2, next_run_at=due)
        rows_before = {e.pk: (e.current_step_id, e.step_pass, e.next_run_at, e.status)
                       for e in (at_second, at_third, finished, their_one)}

        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

        for seq, made in ((sequence, steps), (theirs, their_steps)):
            current = Sequence.objects.get(pk=seq.pk).current_version
            assert (current.number, current.state) == (1, "published")
            assert SequenceVersion.objects.filter(sequence_id=seq.pk).count() == 1
            graph = graph_of(current.pk)
            assert [(n.pk, n.key, n.edges) for n in graph] == [
                (step.pk, f"step-{n}", []) for n, step in enumerate(made, start=1)]
            # A chain: each node continues with the one below it, the last ends the flow.
            assert [getattr(graph.follow(node), "key", None) for node in graph] == [
                f"step-{n}" for n in range(2, len(made) + 1)] + [None]
        for pk, before_row in rows_before.items():
            e = Enrollment.objects.get(pk=pk)
            assert (e.current_step_id, e.step_pass, e.next_run_at, e.status) == before_row
            assert e.version_id == Sequence.objects.get(pk=e.sequence_id).current_version_id
            assert e.current_step is None or e.current_step.version_id == e.version_id

        sweep_inline(now=WEDNESDAY)

        sent = OutboundMessage.objects.get(enrollment_id=at_second.pk)
        assert (sent.step_id, sent.step_pass) == (steps[1].pk, 1)
        moved_on = Enrollment.objects.get(pk=at_second.pk)
        assert (moved_on.current_step.key, moved_on.step_pass, moved_on.status) == ("step-3", 2, "active")
        assert moved_on.next_run_at > WEDNESDAY + timedelta(days=1)
        theirs_sent = OutboundMessage.objects.get(enrollment_id=their_one.pk)
        assert (theirs_sent.step_id, theirs_sent.step_pass) == (their_steps[1].pk, 2)
        assert Enrollment.objects.get(pk=their_one.pk).status == "completed"
        assert not OutboundMessage.objects.filter(enrollment_id__in=[at_third.pk, finished.pk]).exists()
        assert Step.objects.filter(sequence_id=sequence.pk).count() == 3
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
