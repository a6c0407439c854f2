"""Faults with real processes: Celery workers (subprocesses) on this run's Redis database,
sweeps from threads with their own connections, on real PostgreSQL. Every check is
"each due step produced exactly one message and one step_executed row"."""
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from contacts.models import Contact
from messaging.models import OutboundMessage
from sequences.engine import sweep
from sequences.models import Activity, Enrollment

from tests.waiting import wait_for

from .engine_helpers import running_sequence

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 3


def redis_url():
    return settings.CELERY_BROKER_URL or settings.REDIS_URL


class Broker:
    """This run's keys on the real Redis (other runs may share the server and database)."""

    def __init__(self):
        self.client = redis.Redis.from_url(redis_url())
        self.prefix = settings.CELERY_BROKER_KEY_PREFIX
        assert self.prefix, "test runs must keep their broker keys apart"

    def flush(self):
        for key in self.client.scan_iter(match=f"{self.prefix}*", count=1000):
            self.client.delete(key)

    def keys(self):
        return list(self.client.scan_iter(match=f"{self.prefix}*", count=1000))


@pytest.fixture
def broker(settings):
    """Real Redis and a non-eager Celery app."""
    from scendcore.celery import app

    settings.PROCESSOR_LEASE_SECONDS = LEASE_SECONDS
    keys = Broker()
    keys.flush()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield keys
    app.conf.task_always_eager = eager
    keys.flush()


class Workers:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.procs = []
        self.logs = {}

    def start(self, name, **overrides):
        """A worker named `name`; its database connections carry that application name."""
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "scendcore.settings.base",
            "DATABASE_URL": (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
                             f"?application_name={name}"),
            "REDIS_URL": redis_url(),
            "CELERY_BROKER_URL": redis_url(),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PROCESSOR_LEASE_SECONDS": str(LEASE_SECONDS),
            "PROCESSOR_KICK_DELIVERY": "false",
            "DEBUG": "true",
            "CONN_MAX_AGE": "0",
            **overrides,
        }
        log = self.tmp_path / f"{name}.log"
        self.logs[name] = log
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scendcore", "worker", "--pool=solo", "-n", f"{name}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
            cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        wait_for(lambda: " ready." in log.read_text() or proc.poll() is not None, what=f"worker {name} to start")
        assert proc.poll() is None, f"worker {name} exited:\n{log.read_text()[-3000:]}"
        return proc

    def batches(self, name, event):
        """How many processor batches the worker `name` has `event` ("received",
        "succeeded"), as its log says."""
        return len(re.findall(rf"Task sequences\.process_batch\[[\w-]+\] {event}", self.logs[name].read_text()))

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(broker, tmp_path):
    pool = Workers(tmp_path)
    yield pool
    pool.stop()


def seed(tenant, count, *, priority_first=False):
    sequence, (first, *_) = running_sequence(tenant)
    mailbox = sequence.sender_profile
    mailbox.daily_cap = mailbox.hourly_cap = 1_000_000
    mailbox.save()
    contacts = Contact.objects.bulk_create(
        Contact(tenant=tenant, email=f"fault{n}@example.org", first_name=f"F{n}", timezone="UTC")
        for n in range(count)
    )
    due = timezone.now() - timedelta(minutes=5)
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(tenant=tenant, sequence=sequence, contact=c, current_step=first, next_run_at=due,
                   enrolled_at=due - timedelta(days=1), priority=3 if priority_first and n == 0 else 1)
        for n, c in enumerate(contacts)
    )
    return sequence, first, enrollments


def executed():
    return Activity.objects.filter(kind="step_executed").count()


def wait_until_executed(count):
    """Wait until at least `count` steps were executed; return how many were."""
    wait_for(lambda: executed() >= count, what=f"{count} executed steps (at {executed()})")
    return executed()


def wait_until_leases_run_out():
    """Until every lease taken so far has expired by this process's clock (the one the
    sweep claims with)."""
    leased = Enrollment.objects.exclude(lease_owner="")
    wait_for(lambda: not leased.filter(lease_expires_at__gt=timezone.now()).exists(), what="the leases to run out")


def assert_exactly_once(enrollments, first):
    ids = [e.pk for e in enrollments]
    assert OutboundMessage.objects.filter(enrollment_id__in=ids, step=first).count() == len(ids)
    executed = list(Activity.objects.filter(enrollment_id__in=ids, kind="step_executed").values_list(
        "enrollment_id", flat=True))
    assert sorted(executed) == sorted(ids)  # one row each: none missing, none doubled
    assert not Enrollment.objects.filter(pk__in=ids, current_step=first).exists()
    assert not Enrollment.objects.filter(pk__in=ids).exclude(lease_owner="").exists()


def in_thread(target, **kwargs):
    errors = []

    def run():
        try:
            target(**kwargs)
        except Exception as exc:  # noqa: BLE001 - surfaced by the test
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_two_sweeps_and_two_workers_fire_every_due_step_exactly_once(tenant, workers):
    sequence, first, enrollments = seed(tenant, 5000)
    workers.start("one")
    workers.start("two")

    threads = [in_thread(sweep.run) for _ in range(2)]
    for thread, errors in threads:
        thread.join(120)
        assert not thread.is_alive() and not errors

    assert wait_until_executed(5000) == 5000
    assert_exactly_once(enrollments, first)


def _blocked_insert_backend():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ILIKE %s", ["%messaging_outboundmessage%"],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_a_worker_killed_in_the_middle_of_a_batch_loses_nothing_once_its_lease_runs_out(tenant, workers):
    import psycopg

    sequence, first, enrollments = seed(tenant, 600, priority_first=True)
    head = enrollments[0]  # critical priority: in the first batch claimed
    db = settings.DATABASES["default"]
    blocker = psycopg.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"],
                              password=db["PASSWORD"])
    try:
        # An uncommitted row with the head's idempotency key: the worker's insert of the
        # batch's messages waits on it, half-way through the batch.
        blocker.execute(
            "INSERT INTO messaging_outboundmessage (tenant_id, idempotency_key, contact_id, step_pass, channel, "
            "state, to_address, from_address, subject, body_text, body_html, flags, message_id, in_reply_to, "
            "\"references\", approved_content_hash, attempts, claimed_by, error, created_at, updated_at) "
            "VALUES (%s, %s, %s, 1, 'email', 'cancelled', 'x@example.org', '', '', '', '', '[]', '', '', '', '', "
            "0, '', '', now(), now())",
            [tenant.pk, f"{head.pk}:{first.pk}:1", head.contact_id],
        )
        doomed = workers.start("doomed")
        sweep.run(limit=200)
        wait_for(_blocked_insert_backend, what="the worker to reach the middle of its batch")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(30)
    finally:
        blocker.rollback()
        blocker.close()
    first_batch = list(Enrollment.objects.filter(lease_owner__gt="", current_step=first).values_list("pk", flat=True))
    assert head.pk in first_batch
    assert not OutboundMessage.objects.filter(enrollment_id__in=first_batch).exists()

    workers.start("survivor")  # runs the other two batches, which are leased to it by name
    assert wait_until_executed(400) == 400
    wait_until_leases_run_out()
    assert sweep.run(limit=200) == 200  # the dead worker's lease has run out: its rows are claimed again

    assert wait_until_executed(600) == 600
    assert_exactly_once(enrollments, first)


def test_a_redis_flush_between_sweep_and_worker_loses_nothing_and_doubles_nothing(tenant, workers, broker):
    sequence, first, enrollments = seed(tenant, 300)
    assert sweep.run(limit=100) == 300
    assert broker.keys()
    broker.flush()  # the three batches handed to the broker are gone
    workers.start("after-flush")
    wait_until_leases_run_out()
    assert workers.batches("after-flush", "received") == 0
    assert not OutboundMessage.objects.exists()

    assert sweep.run(limit=100) == 300

    assert wait_until_executed(300) == 300
    assert_exactly_once(enrollments, first)


def test_the_same_batch_task_delivered_twice_to_a_worker_runs_once(tenant, workers):
    from sequences import tasks

    sequence, first, enrollments = seed(tenant, 50)
    owner = sweep.new_owner()
    ids = sweep.claim_batch(now=timezone.now(), owner=owner, limit=100)
    tasks.process_batch.delay(ids, owner)
    tasks.process_batch.delay(ids, owner)
    workers.start("twice")

    wait_for(lambda: workers.batches("twice", "succeeded") == 2, what="both deliveries of the batch to run")
    assert executed() == 50
    assert_exactly_once(enrollments, first)
    assert Activity.objects.filter(kind="step_executed").count() == 50


def worker_backends(name):
    """The PostgreSQL backends the worker `name` holds open."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s",
            [name],
        )
        return sorted(cursor.fetchall())


def test_a_worker_keeps_its_database_connection_from_one_batch_to_the_next(tenant, workers):
    # Celery closes every connection around every task unless told otherwise; a new
    # PostgreSQL backend per batch cost more than the batch's own statements.
    from sequences import tasks

    sequence, first, enrollments = seed(tenant, 2)
    workers.start("keeper", CONN_MAX_AGE="600")
    for done in (1, 2):
        owner = sweep.new_owner()
        tasks.process_batch.delay(sweep.claim_batch(now=timezone.now(), owner=owner, limit=1), owner)
        # past the task's end, where the connection used to be closed
        wait_for(lambda: workers.batches("keeper", "succeeded") == done, what=f"batch {done} to finish")
        assert executed() == done
        seen = worker_backends("keeper")
        if done == 1:
            first_seen = seen

    assert len(first_seen) == 1
    assert seen == first_seen
    assert_exactly_once(enrollments, first)
