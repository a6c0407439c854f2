"""The enrollment tallies, by user for the dashboard (sequences.models.EnrollmentTally)
and by sequence and step for the sequences list and the builder (SequenceTally), equal
a recount of the enrollments after any mix of the writes that change them."""
import random
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from contacts.models import ContactList, EventKind, ListMembership
from contacts.facts import facts_record
from contacts.services.contacts import contact_update, contacts_delete
from messaging.services.compliance import contact_unsubscribe
from messaging.services.feedback import hard_bounce_record
from scendcore.models import Role
from sequences.models import Enrollment, EnrollmentTally, SequenceTally, Step
from sequences.selectors import enrollment_tallies, recount_enrollments, recount_sequence_tallies, sequence_tallies
from sequences.services import enrollments as enroll
from sequences.services import steps as step_service
from sequences.services.tallies import compact_tallies
from sequences.tally_triggers import BACKFILL, SEQUENCE_BACKFILL
from tests.factories import ContactFactory, MembershipFactory, UserFactory

from .engine_helpers import WEDNESDAY, running_sequence, sweep_inline

pytestmark = pytest.mark.django_db

OPEN = ("active", "paused")


class Workspace:
    """One tenant's members, contacts and sequences, and the writes a workload picks from."""

    def __init__(self, tenant, members, rng):
        self.tenant, self.members, self.rng = tenant, members, rng
        self.contacts = [ContactFactory(tenant=tenant, owner=rng.choice(members)) for _ in range(24)]
        # One step (completes on its first run) and three steps (stays active, moves on).
        self.sequences = [running_sequence(tenant, steps=1)[0], running_sequence(tenant, steps=3)[0],
                          running_sequence(tenant, steps=1, reenroll_policy="always")[0]]

    def live_contacts(self):
        return [c for c in self.contacts if c.pk is not None]

    def open_enrollments(self, status=OPEN):
        return list(Enrollment.objects.filter(tenant=self.tenant, status__in=status))

    def actor(self):
        return self.rng.choice(self.members)

    def enroll_one(self, at):
        contacts = self.live_contacts()
        if contacts:
            try:
                enroll.enrollment_create(tenant=self.tenant, sequence=self.rng.choice(self.sequences),
                                         contact=self.rng.choice(contacts), actor=self.actor(), at=at,
                                         allow_active_elsewhere=True)
            except ValidationError:
                pass  # already enrolled, suppressed, ended lead: refused, nothing written

    def enroll_many(self, at, via="bulk"):
        contacts = self.live_contacts()
        chosen = self.rng.sample(contacts, min(len(contacts), self.rng.randint(2, 8)))
        ids = [c.pk for c in chosen]
        if via == "list":
            listed = ContactList.objects.create(tenant=self.tenant, name=f"List {self.rng.random()}")
            ListMembership.objects.bulk_create(ListMembership(contact_list=listed, contact_id=pk) for pk in ids)
            ids = ListMembership.objects.filter(contact_list=listed).values("contact_id")
        try:
            enroll.enrollments_bulk_create(tenant=self.tenant, sequence=self.rng.choice(self.sequences),
                                           contact_ids=ids, actor=self.actor(), via=via, at=at,
                                           skip_active_elsewhere=False)
        except ValidationError:
            pass

    def change_one(self, change, status):
        rows = self.open_enrollments(status)
        if rows:
            try:
                change(tenant=self.tenant, enrollment=self.rng.choice(rows), actor=self.actor())
            except ValidationError:
                pass

    def change_many(self, change, status, at):
        rows = self.open_enrollments(status)
        ids = [e.pk for e in self.rng.sample(rows, min(len(rows), 4))]
        if ids:
            change(tenant=self.tenant, enrollment_ids=ids, actor=self.actor(), at=at)

    def contact_fact(self, at):
        contacts = self.live_contacts()
        if not contacts:
            return
        contact = self.rng.choice(contacts)
        kind = self.rng.choice(["reply", "bounce", "unsubscribe"])
        if kind == "reply":
            facts_record(tenant=self.tenant, kind=EventKind.REPLIED, contact_ids=[contact.pk], at=at)
        elif kind == "bounce":
            hard_bounce_record(tenant=self.tenant, source="test", contact=contact, at=at)
        else:
            contact_unsubscribe(tenant=self.tenant, contact_id=contact.pk, at=at)

    def reassign(self):
        contacts = self.live_contacts()
        if contacts:
            contact = self.rng.choice(contacts)
            contact.refresh_from_db()
            contact_update(tenant=self.tenant, contact=contact, data={"owner": self.rng.choice(self.members)},
                           actor=self.actor())

    def move_step(self, at):
        """Reorder the three-step sequence's steps: its enrollments' current steps move."""
        steps = list(Step.objects.filter(sequence=self.sequences[1]).order_by("order"))
        try:
            step_service.step_move(tenant=self.tenant, step=self.rng.choice(steps), position=self.rng.randint(1, 3),
                                   actor=self.actor(), now=at)
        except ValidationError:
            pass  # a move the plan refuses writes nothing

    def delete_contact(self):
        contacts = self.live_contacts()
        if len(contacts) > 10:
            gone = self.rng.choice(contacts)
            contacts_delete(tenant=self.tenant, contact_ids=[gone.pk], actor=self.actor())
            gone.pk = None


def _workload(rng, workspaces, steps):
    at = WEDNESDAY
    for n in range(steps):
        at += timedelta(minutes=rng.randint(1, 90))
        space = rng.choice(workspaces)
        action = rng.choices(
            ["one", "bulk", "list", "pause", "resume", "unenroll", "pause_many", "resume_many", "unenroll_many",
             "sweep", "fact", "reassign", "delete", "move_step", "compact"],
            weights=[8, 4, 3, 4, 3, 2, 2, 2, 1, 5, 4, 4, 2, 2, 1],
        )[0]
        if action == "one":
            space.enroll_one(at)
        elif action in ("bulk", "list"):
            space.enroll_many(at, via=action)
        elif action == "pause":
            space.change_one(enroll.enrollment_pause, ["active"])
        elif action == "resume":
            space.change_one(enroll.enrollment_resume, ["paused"])
        elif action == "unenroll":
            space.change_one(enroll.enrollment_unenroll, OPEN)
        elif action == "pause_many":
            space.change_many(enroll.enrollments_bulk_pause, ["active"], at)
        elif action == "resume_many":
            space.change_many(enroll.enrollments_bulk_resume, ["paused"], at)
        elif action == "unenroll_many":
            space.change_many(enroll.enrollments_bulk_unenroll, OPEN, at)
        elif action == "sweep":
            # Days later, so steps with a delay come due too: the processor runs, moves
            # and completes enrollments of both tenants in one sweep.
            at += timedelta(days=3)
            sweep_inline(now=at)
        elif action == "fact":
            space.contact_fact(at)
        elif action == "reassign":
            space.reassign()
        elif action == "delete":
            space.delete_contact()
        elif action == "move_step":
            space.move_step(at)
        else:
            compact_tallies()


def _everyone(workspaces):
    return [(space.tenant, user) for space in workspaces for other in workspaces for user in other.members]


def _assert_tallies_match_a_recount(workspaces):
    for tenant, user in _everyone(workspaces):
        assert enrollment_tallies(tenant=tenant, user=user) == recount_enrollments(tenant=tenant, user=user), (
            tenant.slug, user.username)


def _assert_sequence_tallies_match_a_recount(workspaces):
    for space in workspaces:
        tallies = sequence_tallies(tenant=space.tenant)
        assert tallies == recount_sequence_tallies(tenant=space.tenant), space.tenant.slug
        # Under each tenant, its own sequences and steps only.
        own = {s.pk for s in space.sequences}
        assert {sequence_id for sequence_id, _, _ in tallies} <= own
        assert {step for _, step, _ in tallies} - {None} <= set(
            Step.objects.filter(sequence_id__in=own).values_list("pk", flat=True))


@pytest.mark.parametrize("seed", [7, 2026])
def test_after_a_random_workload_every_tally_equals_a_recount(seed, tenant, rep, manager, other_tenant, outsider):
    rng = random.Random(seed)
    second_rep = UserFactory(username="sam_rep")
    MembershipFactory(user=second_rep, tenant=tenant, role=Role.REP)
    ours = Workspace(tenant, [rep, manager, second_rep], rng)
    theirs = Workspace(other_tenant, [outsider], rng)

    _workload(rng, [ours, theirs], steps=160)

    assert Enrollment.objects.filter(tenant=tenant).values("status").distinct().count() >= 3  # a real mix
    assert Enrollment.objects.filter(tenant=tenant, status="completed").exists()
    # Open enrollments spread over more than one step of the three-step sequence.
    assert Enrollment.objects.filter(sequence=ours.sequences[1], status__in=OPEN).values(
        "current_step").distinct().count() >= 2
    assert Enrollment.objects.filter(tenant=other_tenant).exists()  # the outsider's rows exist
    _assert_tallies_match_a_recount([ours, theirs])
    _assert_sequence_tallies_match_a_recount([ours, theirs])
    # The outsider's enrollments never count for our members, nor ours for them.
    assert enrollment_tallies(tenant=other_tenant, user=rep) == {}
    assert enrollment_tallies(tenant=tenant, user=outsider) == {}

    # A member leaving: their contacts and the enrollments they made lose their user.
    gone = second_rep.pk
    second_rep.delete()
    second_rep.pk = gone  # still asked about: nothing may count for them any more
    _assert_tallies_match_a_recount([ours, theirs])
    assert enrollment_tallies(tenant=tenant, user=second_rep) == {}
    _assert_sequence_tallies_match_a_recount([ours, theirs])


def test_folding_the_changes_keeps_every_figure_and_one_row_per_key(tenant, rep, manager, other_tenant, outsider):
    rng = random.Random(11)
    ours, theirs = Workspace(tenant, [rep, manager], rng), Workspace(other_tenant, [outsider], rng)
    _workload(rng, [ours, theirs], steps=60)
    before = {(t.pk, u.pk): enrollment_tallies(tenant=t, user=u) for t, u in _everyone([ours, theirs])}
    by_sequence = {t.pk: sequence_tallies(tenant=t) for t in (tenant, other_tenant)}

    compact_tallies()

    after = {(t.pk, u.pk): enrollment_tallies(tenant=t, user=u) for t, u in _everyone([ours, theirs])}
    assert after == before
    assert {t.pk: sequence_tallies(tenant=t) for t in (tenant, other_tenant)} == by_sequence
    keys = list(EnrollmentTally.objects.values_list("tenant_id", "user_id", "status"))
    assert len(keys) == len(set(keys))
    assert not EnrollmentTally.objects.filter(delta=0).exists()
    keys = list(SequenceTally.objects.values_list("tenant_id", "sequence_id", "step_id", "status"))
    assert len(keys) == len(set(keys))
    assert not SequenceTally.objects.filter(delta=0).exists()


def test_a_bulk_owner_change_moves_the_tallies_with_the_contacts(tenant, rep, manager, other_tenant, outsider):
    from contacts.models import Contact

    sequence, _ = running_sequence(tenant)
    contacts = [ContactFactory(tenant=tenant, owner=rep) for _ in range(5)]
    enroll.enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=[c.pk for c in contacts],
                                   actor=manager, at=WEDNESDAY)
    ContactFactory(tenant=other_tenant, owner=outsider)
    # The manager enrolled them: they count for the manager whoever owns the contacts.
    assert enrollment_tallies(tenant=tenant, user=rep) == {"active": 5}
    assert enrollment_tallies(tenant=tenant, user=manager) == {"active": 5}

    Contact.objects.filter(pk__in=[c.pk for c in contacts[:3]]).update(owner=manager)

    assert enrollment_tallies(tenant=tenant, user=rep) == {"active": 2}
    assert enrollment_tallies(tenant=tenant, user=manager) == {"active": 5}  # counted once, not twice
    assert enrollment_tallies(tenant=tenant, user=outsider) == {}


def test_the_migrations_count_of_existing_enrollments_equals_a_recount(tenant, rep, manager, other_tenant, outsider):
    rng = random.Random(5)
    ours, theirs = Workspace(tenant, [rep, manager], rng), Workspace(other_tenant, [outsider], rng)
    _workload(rng, [ours, theirs], steps=40)
    EnrollmentTally.objects.all().delete()
    SequenceTally.objects.all().delete()

    with connection.cursor() as cursor:
        cursor.execute(BACKFILL)
        cursor.execute(SEQUENCE_BACKFILL)

    _assert_tallies_match_a_recount([ours, theirs])
    _assert_sequence_tallies_match_a_recount([ours, theirs])


def test_deleting_a_step_leaves_its_enrollments_counted_without_a_step(tenant, other_tenant):
    sequence, (first, second) = running_sequence(tenant, steps=2)
    theirs, (their_step,) = running_sequence(other_tenant, steps=1)
    for contact in [ContactFactory(tenant=tenant) for _ in range(3)]:
        Enrollment.objects.create(tenant=tenant, sequence=sequence, contact=contact, current_step=second)
    Enrollment.objects.create(tenant=other_tenant, sequence=theirs, contact=ContactFactory(tenant=other_tenant),
                              current_step=their_step)

    second.delete()  # SET_NULL on the enrollments' current step

    assert sequence_tallies(tenant=tenant) == {(sequence.pk, None, "active"): 3}
    assert sequence_tallies(tenant=other_tenant) == {(theirs.pk, their_step.pk, "active"): 1}

    compact_tallies()  # keys without a step fold like the others

    assert sequence_tallies(tenant=tenant) == {(sequence.pk, None, "active"): 3}
    assert SequenceTally.objects.filter(tenant=tenant).count() == 1


def _in_a_thread(write):
    """Run `write` on a connection of its own; returns the thread and where it ended."""
    import threading

    outcome = {}

    def run():
        try:
            write()
            outcome["done"] = True
        except BaseException as exc:  # reported by the test, not lost in the thread
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _waiting_on_a_lock(outcome):
    """True once the other connection waits for a row lock, or has already finished."""
    if outcome:
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first reading
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                       " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] > 0


def _concurrently(first, second):
    """`first` in an open transaction; `second` meanwhile on another connection; then
    `first` commits and `second` is let finish."""
    from django.db import transaction

    from tests.waiting import wait_for

    with transaction.atomic():
        first()
        thread, outcome = _in_a_thread(second)
        wait_for(lambda: _waiting_on_a_lock(outcome), what="the second write to wait or finish")
    thread.join()
    assert "error" not in outcome, outcome.get("error")


@pytest.mark.django_db(transaction=True)
def test_an_enrollment_made_while_its_contacts_owner_changes_counts_for_the_new_owner(
        tenant, rep, manager, other_tenant, outsider):
    from contacts.models import Contact

    sequence, _ = running_sequence(tenant)
    contact = ContactFactory(tenant=tenant, owner=rep)

    _concurrently(
        lambda: Contact.objects.filter(pk=contact.pk).update(owner=manager),
        lambda: Enrollment.objects.create(tenant=tenant, sequence=sequence, contact_id=contact.pk),
    )

    assert enrollment_tallies(tenant=tenant, user=manager) == {"active": 1}
    assert enrollment_tallies(tenant=tenant, user=rep) == {}
    assert enrollment_tallies(tenant=tenant, user=outsider) == {}


@pytest.mark.django_db(transaction=True)
def test_an_owner_change_while_an_enrollment_completes_moves_the_completed_one(
        tenant, rep, manager, other_tenant, outsider):
    from contacts.models import Contact

    sequence, _ = running_sequence(tenant)
    contact = ContactFactory(tenant=tenant, owner=rep)
    enrollment = Enrollment.objects.create(tenant=tenant, sequence=sequence, contact=contact)

    _concurrently(
        lambda: Enrollment.objects.filter(pk=enrollment.pk).update(status="completed"),
        lambda: Contact.objects.filter(pk=contact.pk).update(owner=manager),
    )

    assert enrollment_tallies(tenant=tenant, user=manager) == {"completed": 1}
    assert enrollment_tallies(tenant=tenant, user=rep) == {}
    assert enrollment_tallies(tenant=tenant, user=outsider) == {}


def test_beat_folds_the_tallies_every_few_minutes(settings):
    from scendcore.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["sequences.compact_tallies"]

    assert entry["task"] in app.tasks
    assert entry["schedule"] <= 600
