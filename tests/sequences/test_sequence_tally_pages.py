"""The sequences list's figures and the builder's "waiting here" come from the
per-sequence tallies (sequences.models.SequenceTally), not from counting enrollments on
every request: the same numbers, and no read of the enrollment table for them."""
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import EnrollmentFactory, SequenceFactory, StepFactory

pytestmark = pytest.mark.django_db

# The enrollment table itself, quoted as Django writes it (not its tally tables).
ENROLLMENT_TABLE = re.compile(r'"sequences_enrollment"')


@pytest.fixture
def ours(tenant):
    sequence = SequenceFactory(tenant=tenant, name="Q3 outbound")
    first = StepFactory(sequence=sequence, order=1, delay_value=0, job_type="initial_outreach")
    second = StepFactory(sequence=sequence, order=2, delay_value=3, job_type="follow_up")
    for step, status in [(first, "active"), (first, "paused"), (second, "active"), (second, "completed"),
                         (None, "unenrolled")]:
        EnrollmentFactory(tenant=tenant, sequence=sequence, current_step=step, status=status)
    return sequence, first, second


@pytest.fixture
def theirs(other_tenant):
    """The outsider's sequence, busy at its own first step: never counted for us."""
    sequence = SequenceFactory(tenant=other_tenant, name="Their outbound")
    step = StepFactory(sequence=sequence, order=1, delay_value=0, job_type="initial_outreach")
    for _ in range(4):
        EnrollmentFactory(tenant=other_tenant, sequence=sequence, current_step=step, status="active")
    return sequence


def _get(client, path):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return response, [q["sql"] for q in queries.captured_queries]


def test_the_sequence_cards_show_each_sequences_figures_without_reading_enrollments(rep_client, ours, theirs):
    response, queries = _get(rep_client, reverse("sequences:sequence-list"))

    cards = response.context["cards"]
    assert [c.name for c in cards] == ["Q3 outbound"]
    assert cards[0].stats == {"active": 2, "completed": 1, "paused": 1, "exited": 0, "unenrolled": 1}
    assert not [sql for sql in queries if ENROLLMENT_TABLE.search(sql)]


def test_the_builder_shows_who_waits_at_each_step_without_reading_enrollments(rep_client, ours, theirs):
    sequence, first, second = ours

    response, queries = _get(rep_client, reverse("sequences:sequence-detail", args=[sequence.pk]))

    waiting = {entry.step.pk: entry.waiting for entry in response.context["entries"]}
    assert waiting == {first.pk: 2, second.pk: 1}  # active and paused; the completed one has left
    page = response.content.decode()
    assert "2 waiting here" in page and "1 waiting here" in page and "4 waiting here" not in page
    assert not [sql for sql in queries if ENROLLMENT_TABLE.search(sql)]


def test_a_step_nobody_waits_at_shows_no_count(rep_client, ours):
    sequence, first, second = ours
    EnrollmentFactory._meta.model.objects.filter(current_step=second).update(status="completed")

    response, _ = _get(rep_client, reverse("sequences:sequence-detail", args=[sequence.pk]))

    assert {entry.step.pk: entry.waiting for entry in response.context["entries"]} == {first.pk: 2, second.pk: 0}



@pytest.mark.parametrize("read", ["waiting_counts", "enrollment_stats"])
def test_both_reads_are_answered_from_the_tally_index_alone(ours, tenant, read):
    from sequences import selectors

    sequence, _, _ = ours
    call = {"waiting_counts": lambda: selectors.waiting_counts(tenant=tenant, sequence=sequence),
            "enrollment_stats": lambda: selectors.enrollment_stats(tenant=tenant, sequence_ids=[sequence.pk])}[read]
    with CaptureQueriesContext(connection) as queries:
        call()
    (sql,) = [q["sql"] for q in queries.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the table is tiny here; at scale it is not
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Only Scan using sequence_tally_idx" in plan, plan
