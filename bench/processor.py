"""Benchmark of the sequence processor against a naive per-row baseline.

    .venv/bin/python bench/processor.py [--enrollments 100000] [--skip-idle]

Seeds N active enrollments, all due now, in a 3-step email sequence with an auto-send
agent using the built-in template writer and a mailbox without limits, in a database of
its own on the server DATABASE_URL names (bench/throwaway_db.py creates and drops it).
Then, on the same data reset between runs:
- ours: the real sweep (this process) and real Celery workers (1, then 2 processes,
  `--pool=solo`) on the Redis database of REDIS_URL; delivery is left in the outbox
  (messages stay `queued`), everything else is the full step: gates, agent job, drafting,
  message, activity rows, advance;
- naive: the seed's sample engine — fetch 100 due enrollments, then for each load its
  step, render, save a message, update the enrollment, one by one through the ORM;
- graph: a second tenant's flow, intro message → branch on "opened the intro" → A/B
  split → message (the default path of the branch: a nudge message), with 30 % of the
  contacts having opened their intro. The intro is run first (in this process, not
  timed); then the branch falls due for everyone and 2 workers resolve branch, split
  and message in the batches that reach them. Its steps are the nodes executed. The
  graph's tenant has no frequency cap (the second message follows the first at once
  here; in a real flow a delay or a wait stands between them). Needs the branch step
  type: without one the graph run is left out and the result says so;
- idle: one sweep over 1,000,000 enrollments of which none is due (median of 15).
Prints one JSON object as its last line.
"""
import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import throwaway_db  # noqa: E402

DB_NAME = "scendcore_bench_processor"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6"
# DATABASE_URL (the benchmark's database) is set in os.environ by throwaway_db.recreate;
# the migrate and worker subprocesses inherit it with these.
ENV = {
    "DJANGO_SETTINGS_MODULE": "scendcore.settings.base",
    "REDIS_URL": REDIS_URL,
    "CELERY_BROKER_URL": REDIS_URL,
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "PROCESSOR_KICK_DELIVERY": "false",
    # Workers run as in production: with DEBUG on, Django keeps every query's SQL (here
    # with arrays of a thousand ids) in memory and formats it first.
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "SITE_URL": "http://127.0.0.1:8000",
    "LOG_LEVEL": "WARNING",
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def create_database():
    throwaway_db.recreate(DB_NAME)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env={**os.environ, **ENV},
                   check=True)


def setup_django():
    os.environ.update(ENV)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# ------------------------------------------------------------------ data


def seed(n):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from agents.models import Agent
    from contacts.models import Contact
    from messaging.models import Mailbox
    from scendcore.models import Membership, Tenant
    from sequences.models import Enrollment, Step

    tenant = Tenant.objects.create(name="Bench", slug="bench", default_timezone="America/New_York",
                                   postal_address="1 Bench Street")
    owner = get_user_model().objects.create(username="bench-owner")
    # A manager's sequence: its auto-send agent's drafts go out without review.
    Membership.objects.create(tenant=tenant, user=owner, role="manager")
    agent = Agent.objects.create(tenant=tenant, name="Auto", sender_name="Sam Seller", sender_title="AE",
                                 company_name="Scendly", company_description="a platform that books meetings",
                                 autonomy="auto_send", provider="template")
    mailbox = Mailbox.objects.create(tenant=tenant, name="Unlimited", from_name="Sam", from_email="sam@scendly.example",
                                     daily_cap=10**9, hourly_cap=10**9)
    sequence = throwaway_db.sequence_with_version(tenant=tenant, name="Bench 3-step", status="active", agent=agent,
                                       sender_profile=mailbox, owner=owner)
    steps = [
        Step.objects.create(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key=f"step-{order}", order=order, delay_value=delay, delay_unit="days",
                            job_type=job, channel="email", angle="their outbound pipeline",
                            cta="a 15 minute call next week")
        for order, delay, job in ((1, 0, "initial_outreach"), (2, 2, "follow_up"), (3, 3, "follow_up"))
    ]
    started = time.perf_counter()
    companies = ["Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Acme", "Soylent"]
    for offset in range(0, n, 10_000):
        Contact.objects.bulk_create([
            Contact(tenant=tenant, email=f"lead{i}@{companies[i % 8].lower()}.example", first_name=f"Lee{i}",
                    last_name="Bench", company=companies[i % 8], title="VP Sales", timezone="America/New_York")
            for i in range(offset, min(n, offset + 10_000))
        ])
    contact_ids = list(Contact.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    for offset in range(0, n, 10_000):
        Enrollment.objects.bulk_create([
            Enrollment(tenant=tenant, sequence=sequence, contact_id=cid, current_step=steps[0], next_run_at=now,
                       enrolled_at=now, enrolled_via="bench")
            for cid in contact_ids[offset:offset + 10_000]
        ])
    log(f"seeded {n} enrollments in {time.perf_counter() - started:.1f}s")
    return sequence, steps


def reset(sequence, first_step):
    """Every enrollment back on step 1, due now; no messages, jobs or activity."""
    from django.db import connection
    from django.utils import timezone

    due = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_outboundmessage, agents_agentjob, sequences_activity, "
                       "approvals_approvalrequest, messaging_task CASCADE")
        cursor.execute(
            "UPDATE sequences_enrollment SET status = 'active', current_step_id = %s, step_pass = 1, "
            "next_run_at = %s, waiting_on = '', lease_owner = '', lease_expires_at = NULL, last_step_at = NULL, "
            "finished_at = NULL, visits = '{}'::jsonb WHERE sequence_id = %s", [first_step.pk, due, sequence.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sequences_enrollment")
    return due


def done_count(sequence, first_step):
    from sequences.models import Enrollment

    return Enrollment.objects.filter(sequence=sequence).exclude(current_step=first_step).count()


def first_steps_pending(due):
    """Whether any enrollment still has a step leased to a batch, or due and unclaimed.
    Index probes only (the lease and claim indexes): a full count every 0.2 s took a
    share of the CPU the workers being measured run on."""
    from django.db import connection

    from sequences.engine.sweep import PRIORITIES

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM sequences_enrollment WHERE status = 'active' AND lease_owner <> '') "
            "OR EXISTS (SELECT 1 FROM sequences_enrollment WHERE status = 'active' AND next_run_at IS NOT NULL "
            "AND lease_owner = '' AND priority = ANY(%s::smallint[]) AND next_run_at <= %s)",
            [PRIORITIES, due],
        )
        return cursor.fetchone()[0]


def lateness_p99(due):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - %s)) "
            "FROM messaging_outboundmessage", [due],
        )
        return round(float(cursor.fetchone()[0] or 0), 2)


# ------------------------------------------------------------------ ours


def rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def start_workers(count, tmp):
    procs = []
    for index in range(count):
        logfile = tmp / f"bench-worker-{index}.log"
        procs.append((subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scendcore", "worker", "--pool=solo", "-n",
             f"bench{index}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
            cwd=ROOT, env={**os.environ, **ENV}, stdout=open(logfile, "w"), stderr=subprocess.STDOUT,
        ), logfile))
    deadline = time.monotonic() + 60
    for proc, logfile in procs:
        while " ready." not in logfile.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker failed to start:\n{logfile.read_text()[-2000:]}")
            time.sleep(0.1)
    return [p for p, _ in procs]


def stop_workers(procs):
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_ours(workers, sequence, steps, n, tmp):
    import redis

    from sequences.engine import sweep

    redis.Redis.from_url(REDIS_URL).flushdb()
    procs = start_workers(workers, tmp)
    try:
        due = reset(sequence, steps[0])
        rss = {p.pid: [rss_mb(p.pid)] for p in procs}
        started = time.perf_counter()
        sweep.run()
        while first_steps_pending(due):
            time.sleep(0.2)
            for p in procs:
                rss[p.pid].append(rss_mb(p.pid))
            if time.perf_counter() - started > 900:
                raise SystemExit(f"ours with {workers} worker(s) stalled at {done_count(sequence, steps[0])}/{n}")
        elapsed = time.perf_counter() - started
    finally:
        stop_workers(procs)
    done = done_count(sequence, steps[0])
    if done != n:
        raise SystemExit(f"ours with {workers} worker(s) finished with {done}/{n} first steps done")
    peak = max(max(values) for values in rss.values())
    drift = max(values[-1] - values[len(values) // 4] for values in rss.values() if len(values) > 4) \
        if any(len(v) > 4 for v in rss.values()) else 0.0
    result = {"steps_per_s": round(n / elapsed), "seconds": round(elapsed, 2), "lateness_p99_s": lateness_p99(due),
              "peak_rss_mb": round(peak, 1), "rss_growth_after_warmup_mb": round(drift, 1)}
    log(f"ours {workers}w: {result}")
    return result


# ------------------------------------------------------------------ graph

GRAPH_OPEN_SHARE = 0.3


def seed_graph(n):
    """The graph workload's tenant, flow and n enrollments due on the intro."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from agents.models import Agent
    from contacts.models import Contact
    from messaging.models import Mailbox
    from scendcore.models import Membership, Tenant
    from sequences.models import Enrollment, Step

    tenant = Tenant.objects.create(name="Bench graph", slug="bench-graph", default_timezone="America/New_York",
                                   postal_address="1 Bench Street", frequency_cap_messages=0)
    owner = get_user_model().objects.create(username="bench-graph-owner")
    Membership.objects.create(tenant=tenant, user=owner, role="manager")
    agent = Agent.objects.create(tenant=tenant, name="Auto", sender_name="Sam Seller", sender_title="AE",
                                 company_name="Scendly", company_description="a platform that books meetings",
                                 autonomy="auto_send", provider="template")
    mailbox = Mailbox.objects.create(tenant=tenant, name="Unlimited", from_name="Sam", from_email="sam@graph.example",
                                     daily_cap=10**9, hourly_cap=10**9)
    sequence = throwaway_db.sequence_with_version(tenant=tenant, name="Bench graph", status="active", agent=agent,
                                                  sender_profile=mailbox, owner=owner)
    stop = [{"label": "next", "to": None}]
    message = {"channel": "email", "angle": "their outbound pipeline", "cta": "a 15 minute call next week"}
    nodes = [
        ("intro", "message", {"job_type": "initial_outreach", **message}),
        ("opened", "branch", {"delay_value": 2, "edges": [
            {"label": "Opened", "condition": {"kind": "opened", "node": "intro"}, "to": "ab"},
            {"label": "default", "to": "nudge"}]}),
        ("ab", "split", {"edges": [{"label": "A", "weight": 50, "to": "case-a"},
                                   {"label": "B", "weight": 50, "to": "case-b"}]}),
        ("case-a", "message", {"job_type": "follow_up", "edges": stop, **message}),
        ("case-b", "message", {"job_type": "follow_up", "edges": stop, **message}),
        ("nudge", "message", {"job_type": "follow_up", "edges": stop, **message}),
    ]
    steps = {
        key: Step.objects.create(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key=key,
                                 title=key, kind=kind, order=order, delay_unit="days", **values)
        for order, (key, kind, values) in enumerate(nodes, 1)
    }
    for offset in range(0, n, 10_000):
        Contact.objects.bulk_create([
            Contact(tenant=tenant, email=f"graph{i}@graph.example", first_name=f"Gee{i}", last_name="Bench",
                    company="Graphco", title="VP Sales", timezone="America/New_York")
            for i in range(offset, min(n, offset + 10_000))
        ])
    contact_ids = list(Contact.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    for offset in range(0, n, 10_000):
        Enrollment.objects.bulk_create([
            Enrollment(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, contact_id=cid,
                       current_step=steps["intro"], next_run_at=now, enrolled_at=now, enrolled_via="bench",
                       visits={"intro": 1})
            for cid in contact_ids[offset:offset + 10_000]
        ])
    return sequence, steps


def graph_intro_sent(sequence, steps):
    """Run the intro for every graph enrollment in this process (not timed), mark it sent
    (delivery is not benchmarked here, and an unsent message has no opens), record an open
    of it for GRAPH_OPEN_SHARE of the contacts, and make the branch due now."""
    from django.db import connection
    from django.utils import timezone

    from sequences.engine import execute, sweep

    def inline(ids, owner, at):
        execute.process_batch(enrollment_ids=ids, lease_owner=owner, now=at)

    while sweep.run(dispatch=inline):  # a sweep stops at PROCESSOR_MAX_IN_FLIGHT rows
        pass
    with connection.cursor() as cursor:
        cursor.execute("UPDATE messaging_outboundmessage SET state = 'sent', sent_at = now() WHERE step_id = %s",
                       [steps["intro"].pk])
        cursor.execute(
            "INSERT INTO contacts_contactevent (tenant_id, contact_id, kind, message_id, data, occurred_at, "
            "created_at) SELECT m.tenant_id, m.contact_id, 'opened', m.id, '{}'::jsonb, now(), now() "
            "FROM messaging_outboundmessage m WHERE m.step_id = %s AND m.id %% 10 < %s",
            [steps["intro"].pk, round(GRAPH_OPEN_SHARE * 10)],
        )
        opened = cursor.rowcount
        due = timezone.now()
        cursor.execute("UPDATE sequences_enrollment SET next_run_at = %s WHERE current_step_id = %s "
                       "AND status = 'active'", [due, steps["opened"].pk])
        waiting = cursor.rowcount
        cursor.execute("VACUUM ANALYZE sequences_enrollment")
    log(f"graph: {waiting} enrollments due at the branch, {opened} opened their intro")
    return waiting


def run_graph(workers, sequence, steps, n, tmp):
    import redis
    from django.db import connection

    from sequences.engine import sweep

    waiting = graph_intro_sent(sequence, steps)
    if waiting != n:
        raise SystemExit(f"graph: {waiting}/{n} enrollments reached the branch after the intro")
    redis.Redis.from_url(REDIS_URL).flushdb()
    procs = start_workers(workers, tmp)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT now()")
            due = cursor.fetchone()[0]
        started = time.perf_counter()
        sweep.run()
        while first_steps_pending(due):
            time.sleep(0.2)
            if time.perf_counter() - started > 900:
                raise SystemExit(f"graph with {workers} worker(s) stalled")
        elapsed = time.perf_counter() - started
    finally:
        stop_workers(procs)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE kind IN ('step_executed', 'step_skipped')), "
            "count(*) FILTER (WHERE kind = 'path') FROM sequences_activity WHERE sequence_id = %s "
            "AND step_id <> %s", [sequence.pk, steps["intro"].pk])
        nodes, paths = cursor.fetchone()
        cursor.execute("SELECT status, count(*) FROM sequences_enrollment WHERE sequence_id = %s GROUP BY status",
                       [sequence.pk])
        statuses = dict(cursor.fetchall())
        cursor.execute("SELECT s.key, count(*) FROM messaging_outboundmessage m JOIN sequences_step s "
                       "ON s.id = m.step_id WHERE s.sequence_id = %s GROUP BY s.key", [sequence.pk])
        messages = dict(cursor.fetchall())
    if statuses.get("completed") != n:
        raise SystemExit(f"graph with {workers} worker(s) ended with {statuses}")
    if not messages.get("case-a") or not messages.get("case-b"):
        raise SystemExit(f"graph with {workers} worker(s): nobody took the opened path ({messages})")
    result = {"steps_per_s": round(nodes / elapsed), "enrollments_per_s": round(n / elapsed),
              "seconds": round(elapsed, 2), "nodes": nodes, "paths": paths, "messages": messages}
    log(f"graph {workers}w: {result}")
    return result


# ------------------------------------------------------------------ naive


def run_naive(sequence, steps, limit):
    """The seed's sample engine: 100 due rows, then one row at a time through the ORM."""
    from django.utils import timezone

    from agents.drafting import DraftRequest, draft
    from contacts.models import Contact
    from messaging.models import OutboundMessage
    from sequences.models import Enrollment, Step
    from sequences.scheduling import next_run_at

    reset(sequence, steps[0])
    done = 0
    started = time.perf_counter()
    while done < limit:
        due = list(Enrollment.objects.filter(status="active", next_run_at__lte=timezone.now())[:100])
        if not due:
            break
        for enrollment in due:
            step = Step.objects.get(pk=enrollment.current_step_id)
            contact = Contact.objects.get(pk=enrollment.contact_id)
            seq = enrollment.sequence
            result = draft(DraftRequest(agent=seq.agent, tenant=seq.tenant, contact=contact, step=step))
            OutboundMessage.objects.create(
                tenant_id=enrollment.tenant_id, idempotency_key=f"{enrollment.pk}:{step.pk}:{enrollment.step_pass}",
                enrollment=enrollment, step=step, contact=contact, channel="email", state="queued",
                to_address=contact.email, subject=result.subject, body_text=result.body_text,
                body_html=result.body_html,
            )
            following = Step.objects.filter(sequence_id=enrollment.sequence_id, order__gt=step.order).order_by("order").first()
            now = timezone.now()
            enrollment.current_step = following
            enrollment.last_step_at = now
            enrollment.next_run_at = next_run_at(step=following, after=now, contact=contact, tenant=seq.tenant)
            enrollment.save()
            done += 1
    elapsed = time.perf_counter() - started
    result = round(done / elapsed)
    log(f"naive: {done} steps in {elapsed:.1f}s = {result}/s")
    return result


# ------------------------------------------------------------------ idle


def run_idle(sequence, total=1_000_000):
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from sequences.engine import sweep
    from sequences.models import Enrollment, Step

    # What the naive run left due is pushed out: this measures a table with nothing due.
    Enrollment.objects.filter(next_run_at__lte=timezone.now() + timedelta(hours=1)).update(
        next_run_at=timezone.now() + timedelta(days=1))
    existing = Enrollment.objects.count()
    contacts = Enrollment.objects.filter(sequence=sequence).count()
    needed = total - existing
    started = time.perf_counter()
    extra = 0
    while extra * contacts < needed:
        other = throwaway_db.sequence_with_version(tenant=sequence.tenant, name=f"Idle {extra}", status="active",
                                        agent=sequence.agent, sender_profile=sequence.sender_profile)
        step = Step.objects.create(tenant=sequence.tenant, sequence=other, version_id=other.current_version_id, key="step-1", order=1, delay_value=5)
        rows = min(contacts, needed - extra * contacts)
        with connection.cursor() as cursor:
            # Not due: spread over the next 30 days, a mix of priorities.
            cursor.execute(
                "INSERT INTO sequences_enrollment (tenant_id, sequence_id, contact_id, status, current_step_id, "
                "step_pass, next_run_at, waiting_on, priority, lease_owner, pause_reason, exit_reason, "
                "enrolled_via, enrolled_at, updated_at) "
                "SELECT %s, %s, c.contact_id, 'active', %s, 1, now() + (1 + random() * 30) * interval '1 day', "
                "'', (c.rn %% 4), '', '', '', 'bench', now(), now() "
                "FROM (SELECT contact_id, row_number() OVER (ORDER BY contact_id) AS rn FROM sequences_enrollment "
                "WHERE sequence_id = %s) c WHERE c.rn <= %s",
                [sequence.tenant_id, other.pk, step.pk, sequence.pk, rows],
            )
        extra += 1
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE sequences_enrollment")
    count = Enrollment.objects.count()
    log(f"idle table: {count} enrollments ({time.perf_counter() - started:.1f}s to build)")
    timings = []
    for _ in range(15):
        tick = time.perf_counter()
        claimed = sweep.run(dispatch=lambda *a: None)
        timings.append((time.perf_counter() - tick) * 1000)
        assert claimed == 0, "the idle table has due rows"
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sweep.DUE_SQL, {
            "now": timezone.now(), "owner": "x", "expires": None,
            "limit": 500, "priorities": sweep.PRIORITIES})
        log("\n".join(row[0] for row in cursor.fetchall()))
    return count, round(statistics.median(timings), 2)


def graph_unavailable(args):
    """Why the graph workload cannot run ('' when it can)."""
    from sequences.engine import steps as step_types

    if args.skip_graph:
        return "--skip-graph"
    missing = [kind for kind in ("branch", "split") if kind not in step_types.kinds()]
    return f"no step type for {', '.join(missing)}" if missing else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--naive-steps", type=int, default=5_000,
                        help="steps the naive baseline runs (it is slow; its rate is what counts)")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--skip-graph", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    n = args.enrollments
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="bench-processor-"))
    create_database()
    setup_django()
    from django.db import connections

    try:
        sequence, steps = seed(n)
        one = run_ours(1, sequence, steps, n, tmp)
        two = run_ours(2, sequence, steps, n, tmp)
        graph, graph_missing = None, graph_unavailable(args)
        if not graph_missing:
            graph = run_graph(2, *seed_graph(n), n, tmp)
        naive = run_naive(sequence, steps, min(args.naive_steps, n))
        idle_rows, idle_ms = (None, None) if args.skip_idle else run_idle(sequence)
    finally:
        connections.close_all()
        if not args.keep_db:
            throwaway_db.drop(DB_NAME)
    result = {
        "enrollments": n,
        "ours_1w_steps_per_s": one["steps_per_s"],
        "ours_2w_steps_per_s": two["steps_per_s"],
        "naive_steps_per_s": naive,
        "ratio_vs_naive": round(two["steps_per_s"] / naive, 1) if naive else None,
        "lateness_p99_s": two["lateness_p99_s"],
        "peak_rss_mb": max(one["peak_rss_mb"], two["peak_rss_mb"]),
        "idle_sweep_ms_1m": idle_ms,
        "graph_2w_steps_per_s": graph["steps_per_s"] if graph else None,
        "graph_2w_enrollments_per_s": graph["enrollments_per_s"] if graph else None,
        "graph_vs_linear_2w": round(graph["steps_per_s"] / two["steps_per_s"], 2) if graph else None,
    }
    if graph_missing:
        result["graph_not_run"] = graph_missing
    log(f"details: 1w={one} 2w={two} graph={graph} idle_rows={idle_rows}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
