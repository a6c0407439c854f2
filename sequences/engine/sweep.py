"""The sweep: claim due enrollments in batches and hand each batch to a worker.

A claim is one statement in its own transaction: the due rows are picked with
SELECT … FOR UPDATE SKIP LOCKED and stamped with a lease (owner + expiry) by the same
UPDATE, then committed before the batch goes to the broker. Any number of sweeps may
run at once on any machines: a row another transaction holds is skipped, a row another
sweep already leased no longer matches. A worker that dies leaves its lease to run
out; a later sweep takes those rows again (a stale delivery of the old batch then finds
nothing under its owner name and does nothing).

Priority orders the claim when more is due than fits a batch: the claim probes each
priority level, highest first, through `enrollment_claim_idx`, so an idle sweep over
millions of rows is a handful of index probes.
"""
import logging
import os
import socket
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from scendcore import jobs

from ..flow.transitions import PARKED  # noqa: F401 - the sweep's view of parked rows
from ..models import Enrollment, EnrollmentStatus, Priority

logger = logging.getLogger(__name__)
PRIORITIES = sorted((p.value for p in Priority), reverse=True)


def lease_seconds():
    return getattr(settings, "PROCESSOR_LEASE_SECONDS", 300)


def batch_size():
    return getattr(settings, "PROCESSOR_BATCH_SIZE", 1000)


def max_in_flight():
    return getattr(settings, "PROCESSOR_MAX_IN_FLIGHT", 20000)


def new_owner():
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"


# Expired leases first (they are the oldest work), then fresh due rows by priority.
# The picked rows are updated by primary key ("= ANY(ARRAY(…))"): joined to the CTE
# instead, the planner hashed the whole enrollment table for every batch (a
# sequential scan per claim, growing with the table, not with the work).
EXPIRED_SQL = """
WITH picked AS MATERIALIZED (
    SELECT id FROM sequences_enrollment
    WHERE status = 'active' AND lease_owner <> '' AND lease_expires_at <= %(now)s
      AND next_run_at <= %(now)s
    ORDER BY lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE sequences_enrollment e
SET lease_owner = %(owner)s, lease_expires_at = %(expires)s
WHERE e.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING e.id
"""

DUE_SQL = """
WITH picked AS MATERIALIZED (
    SELECT due.id
    FROM unnest(%(priorities)s::smallint[]) WITH ORDINALITY AS p(level, rank)
    CROSS JOIN LATERAL (
        SELECT id FROM sequences_enrollment
        WHERE status = 'active' AND next_run_at IS NOT NULL AND lease_owner = ''
          AND priority = p.level AND next_run_at <= %(now)s
        ORDER BY next_run_at
        LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED
    ) due
    LIMIT %(limit)s
)
UPDATE sequences_enrollment e
SET lease_owner = %(owner)s, lease_expires_at = %(expires)s
WHERE e.id = ANY(ARRAY(SELECT id FROM picked))
RETURNING e.id
"""

IN_FLIGHT_SQL = """
SELECT count(*) FROM (
    SELECT 1 FROM sequences_enrollment
    WHERE status = 'active' AND lease_owner <> '' AND lease_owner <> %(parked)s
      AND lease_expires_at > %(now)s
    LIMIT %(cap)s
) leased
"""


def _is_postgres():
    return connection.vendor == "postgresql"


def in_flight(*, now, cap):
    """How many rows are leased to batches not finished yet (counted up to `cap`)."""
    if not _is_postgres():
        return (
            Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, lease_expires_at__gt=now)
            .exclude(lease_owner="").exclude(lease_owner=PARKED).count()
        )
    with connection.cursor() as cursor:
        cursor.execute(IN_FLIGHT_SQL, {"parked": PARKED, "now": now, "cap": cap})
        return cursor.fetchone()[0]


def claim_batch(*, now, owner, limit):
    """Lease up to `limit` due enrollments to `owner`; returns their ids (committed)."""
    expires = now + timedelta(seconds=lease_seconds())
    params = {"now": now, "owner": owner, "expires": expires, "limit": limit, "priorities": PRIORITIES}
    with transaction.atomic():
        if not _is_postgres():
            return _claim_batch_portable(now=now, owner=owner, expires=expires, limit=limit)
        with connection.cursor() as cursor:
            cursor.execute(EXPIRED_SQL, params)
            ids = [row[0] for row in cursor.fetchall()]
            if len(ids) < limit:
                cursor.execute(DUE_SQL, {**params, "limit": limit - len(ids)})
                ids += [row[0] for row in cursor.fetchall()]
    return ids


def _claim_batch_portable(*, now, owner, expires, limit):
    # Zero-config (SQLite): one writer at a time, so a plain conditional UPDATE is safe.
    from django.db.models import Q

    due = (
        Enrollment.objects.filter(status=EnrollmentStatus.ACTIVE, next_run_at__lte=now)
        .filter(Q(lease_owner="") | Q(lease_expires_at__lte=now))
        .order_by("-priority", "next_run_at")
        .values_list("id", flat=True)[:limit]
    )
    ids = list(due)
    Enrollment.objects.filter(pk__in=ids).update(lease_owner=owner, lease_expires_at=expires)
    return ids


def _dispatch(ids, owner, at):
    # Committed already (claim_batch): the batch goes to the broker at once.
    jobs.task("sequences.process_batch").delay(ids, owner, at.isoformat() if at else None)


def run(*, now=None, limit=None, max_batches=None, dispatch=_dispatch):
    """One sweep. Claims batches while work is due and fewer than PROCESSOR_MAX_IN_FLIGHT
    rows are leased, hands each to `dispatch(ids, owner, at)`. Returns rows claimed.

    `now` makes the sweep (and the batches it dispatches) act at that moment: tests use
    it as a controllable clock. Without it each worker uses its own clock."""
    at = now
    size = limit or batch_size()
    cap = max_in_flight()
    claimed = 0
    # Counted once per sweep, then kept by hand: counting before every batch cost a scan
    # of everything in flight per batch. (Other sweeps running at the same moment may
    # overshoot the cap by their own claims; it is a guard against flooding, not a quota.)
    room = cap - in_flight(now=at or timezone.now(), cap=cap)
    for _ in range(max_batches or 10_000):
        if room <= 0:
            break
        moment = at or timezone.now()
        owner = new_owner()
        ids = claim_batch(now=moment, owner=owner, limit=min(size, room))
        if not ids:
            break
        claimed += len(ids)
        dispatch(ids, owner, at)
        if len(ids) < min(size, room):
            break
        room -= len(ids)
    if claimed:
        logger.info("sweep claimed %s enrollment(s)", claimed)
    return claimed
