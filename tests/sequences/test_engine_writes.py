"""The processor's bulk writes (COPY) keep every value as the ORM would have written it."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from agents.models import AgentJob
from scendcore import bulk
from sequences.flow import store as writes
from sequences.models import Activity, Enrollment

from .engine_helpers import WEDNESDAY, due_enrollment, running_sequence

NEW_YORK = ZoneInfo("America/New_York")


def _outsider_enrollment(other_tenant):
    sequence, steps = running_sequence(other_tenant, steps=1)
    return due_enrollment(sequence, steps[0])


def test_activity_rows_keep_the_exact_instant_of_timestamps_given_in_any_zone(tenant, other_tenant):
    sequence, steps = running_sequence(tenant)
    enrollment = due_enrollment(sequence, steps[0])
    outsider = _outsider_enrollment(other_tenant)
    # The hour before New York's clocks went back: the same local time happens twice.
    ambiguous = datetime(2025, 11, 2, 1, 30, 0, 250_001, tzinfo=NEW_YORK)
    shared = {"next_run_at": "2025-06-13T15:00:00+00:00"}
    rows = [
        writes.activity_row(enrollment=enrollment, kind="deferred", detail="one", data=shared, at=ambiguous),
        writes.activity_row(enrollment=enrollment, kind="deferred", detail="two", data=shared,
                            at=ambiguous.replace(fold=1)),
        writes.activity_row(enrollment=enrollment, kind="step_executed", detail="three", at=WEDNESDAY),
        writes.activity_row(enrollment=outsider, kind="step_executed", detail="outsider", at=WEDNESDAY),
    ]
    with transaction.atomic():
        writes.activities_write(rows)

    written = {a.detail: a for a in Activity.objects.filter(tenant=tenant)}
    # Compared as POSIX times: Python never calls an ambiguous local time equal to
    # another zone's time, even the same instant.
    assert written["one"].created_at.timestamp() == ambiguous.timestamp()
    assert written["two"].created_at.timestamp() == ambiguous.replace(fold=1).timestamp()
    assert written["two"].created_at - written["one"].created_at == timedelta(hours=1)
    assert written["three"].created_at == WEDNESDAY
    assert written["one"].data == written["two"].data == shared
    assert written["three"].data == {}
    assert list(Activity.objects.filter(tenant=other_tenant).values_list("detail", flat=True)) == ["outsider"]


def test_the_enrollment_update_writes_timestamps_and_clears_the_empty_ones(tenant, other_tenant):
    sequence, steps = running_sequence(tenant)
    enrollment = due_enrollment(sequence, steps[0], finished_at=WEDNESDAY)
    outsider = _outsider_enrollment(other_tenant)
    due = datetime(2025, 3, 9, 3, 0, 0, 999_999, tzinfo=NEW_YORK)  # the first hour after the spring change
    enrollment.next_run_at = due
    enrollment.last_step_at = WEDNESDAY
    enrollment.finished_at = None
    with transaction.atomic():
        writes.save_batch([enrollment], [], at=WEDNESDAY)

    enrollment.refresh_from_db()
    assert enrollment.next_run_at == due
    assert enrollment.last_step_at == WEDNESDAY
    assert enrollment.finished_at is None
    assert enrollment.updated_at == WEDNESDAY
    untouched = Enrollment.objects.get(pk=outsider.pk)
    assert untouched.next_run_at == outsider.next_run_at
    assert untouched.updated_at != WEDNESDAY


def test_allocated_job_ids_come_from_the_job_tables_own_identity(tenant, other_tenant):
    sequence, steps = running_sequence(tenant)
    enrollment = due_enrollment(sequence, steps[0])
    outsider = _outsider_enrollment(other_tenant)

    def job(on, step_pass):
        return AgentJob.objects.create(tenant=on.tenant, agent=on.sequence.agent, enrollment=on,
                                       step=on.current_step, step_pass=step_pass)

    before = job(outsider, 1)
    allocated = bulk.allocate_ids(AgentJob, 3)
    after = job(enrollment, 1)
    assert len(set(allocated)) == 3
    assert before.id < min(allocated) and max(allocated) < after.id
    assert bulk.allocate_ids(AgentJob, 0) == []
