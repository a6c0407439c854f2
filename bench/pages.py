"""Everyday pages at scale, served the way production serves them.

Seeds, in a PostgreSQL database of its own, one workspace with 100,000 contacts, a sequence
with 100,000 enrollments, 5,000 drafts waiting for approval, 20,000 sent messages, replies
and tasks; serves the app through gunicorn (2 workers, DEBUG=false); and requests every
page in PAGES from a logged-in session. Per page: p50 and p95 over the timed requests, and
the number of SQL queries and their time (one request in-process, with the queries
captured). The last line of output is one JSON object.

    .venv/bin/python bench/pages.py [--requests 50] [--only enrollments,dashboard]
                                    [--keep] [--reuse]

--keep leaves the seeded database in place; --reuse runs against such a database (after
`migrate`, so new indexes apply) instead of seeding again. BENCH_DB names the database.
"""
import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import throwaway_db  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scendcore.settings.test")
# The server and this process sign sessions with one key: the session made here logs in there.
os.environ["SECRET_KEY"] = "bench-pages-" + "k" * 50
BENCH_DB = os.environ.get("BENCH_DB", "scendcore_bench_pages")
CONTACTS = int(os.environ.get("BENCH_CONTACTS", 100_000))
DRAFTS = int(os.environ.get("BENCH_DRAFTS", 5_000))
SENT = int(os.environ.get("BENCH_SENT", 20_000))
REPLIES = int(os.environ.get("BENCH_REPLIES", 2_000))
TASKS = int(os.environ.get("BENCH_TASKS", 2_000))
TARGET_P95_MS = 100

FIRST = ["Ada", "Bob", "Cleo", "Dev", "Eve", "Finn", "Gia", "Hal", "Ivy", "Jon", "Kai", "Lea", "Max", "Nia"]
LAST = ["Smith", "Jones", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Moore", "Taylor", "Clark", "Lewis"]
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent"]
TAILS = ["Corp", "Labs", "Systems", "Group", "Partners", "Holdings", "Analytics", "Logistics"]
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/Berlin", "Europe/London"]


def pages(ids):
    """(name, path) of every page measured; `ids` holds the seeded objects' ids."""
    seq, last_approvals = ids["sequence"], max(1, -(-DRAFTS // 25))
    return [
        ("enrollments", f"/sequences/{seq}/enrollments/"),
        ("enrollments_page_1000", f"/sequences/{seq}/enrollments/?page=1000"),
        ("enrollments_filtered", f"/sequences/{seq}/enrollments/?status=active"),
        ("contacts_search_common", "/contacts/?q=smith"),
        ("contacts_search_rare", "/contacts/?q=ada.garcia.4"),
        ("dashboard", "/"),
        ("contacts_search_filter_sort", "/contacts/?q=globex&status=new&sort=company"),
        ("contacts_tag", f"/contacts/?tag={ids['tag']}"),
        ("contacts_not_in_sequence_by_email", "/contacts/?in_sequence=no&sort=email"),
        ("contacts_page_1000", "/contacts/?page=1000"),
        ("approvals", "/approvals/"),
        ("approvals_last_page", f"/approvals/?page={last_approvals}"),
        ("builder", f"/sequences/{seq}/"),
        ("contacts", "/contacts/"),
        ("enrollment_detail", f"/enrollments/{ids['enrollment']}/"),
        ("sequences", "/sequences/"),
        ("messages", "/messages/"),
        ("messages_sent", "/messages/?state=sent"),
        ("messages_page_200", "/messages/?page=200"),
        ("tasks", "/tasks/"),
    ]


def _bulk(model, rows, size=10_000):
    created = []
    for start in range(0, len(rows), size):
        created += model.objects.bulk_create(rows[start:start + size])
    return created


def seed(rng):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from agents.models import Agent
    from approvals.models import ApprovalRequest
    from contacts.models import Contact, ContactList, ListMembership, Tag
    from messaging.models import InboundMessage, Mailbox, OutboundMessage, Task
    from scendcore.models import Membership, Tenant
    from sequences.models import Activity, Enrollment, Step

    now = timezone.now()
    tenant = Tenant.objects.create(name="Bench", slug="bench", default_timezone="America/New_York")
    manager = get_user_model().objects.create_user("bench-manager", "manager@bench.example", "pw")
    Membership.objects.create(user=manager, tenant=tenant, role="manager")
    reps = [get_user_model().objects.create_user(f"rep{i}", f"rep{i}@bench.example", "pw") for i in range(4)]
    Membership.objects.bulk_create(Membership(user=u, tenant=tenant, role="rep") for u in reps)
    owners = [manager, *reps]

    statuses, bands = ["new", "contacted", "qualified", "converted", "disqualified"], ["cold", "warm", "hot"]
    contacts = []
    for i in range(CONTACTS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = f"{rng.choice(WORDS)} {rng.choice(TAILS)} {i % 900}"
        contacts.append(Contact(
            tenant=tenant, email=f"{first.lower()}.{last.lower()}.{i}@{company.split()[0].lower()}{i % 500}.example",
            first_name=first, last_name=last, company=company, title="Buyer", timezone=ZONES[i % len(ZONES)],
            lead_status=statuses[i % 5], score_band=bands[i % 3], owner_id=owners[i % len(owners)].pk,
            created_at=now - timedelta(minutes=i),
        ))
    contacts = _bulk(Contact, contacts)
    tags = [Tag.objects.create(tenant=tenant, name=n) for n in ("vip", "event", "partner")]
    through = Contact.tags.through
    _bulk(through, [through(contact_id=c.pk, tag_id=tags[n % 3].pk) for n, c in enumerate(contacts[::4])])
    lists = [ContactList.objects.create(tenant=tenant, name=f"List {i}") for i in range(3)]
    _bulk(ListMembership, [ListMembership(contact_list=lists[n % 3], contact_id=c.pk)
                           for n, c in enumerate(contacts[::10])])

    agent = Agent.objects.create(tenant=tenant, name="Bench writer")
    mailbox = Mailbox.objects.create(tenant=tenant, name="Bench", from_name="Bench", from_email="out@bench.example",
                                     smtp_host="127.0.0.1")
    sequence = throwaway_db.sequence_with_version(tenant=tenant, name="Bench outreach", status="active", agent=agent,
                                       sender_profile=mailbox, owner=manager)
    for n in range(2):
        throwaway_db.sequence_with_version(tenant=tenant, name=f"Bench nurture {n}", status="draft", agent=agent, owner=manager)
    steps = [Step.objects.create(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key=f"step-{n + 1}", order=n + 1, delay_value=n * 2) for n in range(3)]

    # Most contacts are active in the sequence; some finished, replied or paused.
    mix = ["active"] * 7 + ["completed", "replied", "paused"]
    enrollments = _bulk(Enrollment, [
        Enrollment(tenant=tenant, sequence=sequence, contact_id=c.pk, status=mix[n % 10],
                   current_step=steps[n % 3], next_run_at=now + timedelta(minutes=n % 10_000),
                   enrolled_at=now - timedelta(days=n % 30), last_step_at=now - timedelta(hours=n % 500))
        for n, c in enumerate(contacts)
    ])
    _bulk(Activity, [
        Activity(tenant_id=tenant.pk, enrollment_id=e.pk, contact_id=e.contact_id, sequence_id=sequence.pk,
                 kind="enrolled", detail="Enrolled", created_at=e.enrolled_at)
        for e in enrollments
    ])

    messages = []
    for n, e in enumerate(enrollments[:DRAFTS + SENT]):
        draft = n < DRAFTS
        messages.append(OutboundMessage(
            tenant=tenant, idempotency_key=f"bench-{e.pk}-1", enrollment_id=e.pk, step=steps[0],
            contact_id=e.contact_id, state="pending_approval" if draft else "sent", mailbox=mailbox,
            to_address=contacts[n].email, from_address="out@bench.example", subject=f"Idea for {contacts[n].company}",
            body_text="Hello,\n\nA short note.\n", created_at=now - timedelta(minutes=n),
            sent_at=None if draft else now - timedelta(minutes=n), message_id="" if draft else f"<bench-{n}@bench>",
        ))
    messages = _bulk(OutboundMessage, messages)
    _bulk(ApprovalRequest, [
        ApprovalRequest(tenant=tenant, message_id=m.pk, enrollment_id=m.enrollment_id, review_reasons=["review"],
                        created_at=m.created_at)
        for m in messages[:DRAFTS]
    ])
    _bulk(InboundMessage, [
        InboundMessage(tenant=tenant, mailbox=mailbox, contact_id=m.contact_id, matched_message_id=m.pk,
                       classification="reply", from_address=m.to_address, subject=f"Re: {m.subject}",
                       body_text="Thanks, tell me more.", received_at=now - timedelta(minutes=n))
        for n, m in enumerate(messages[DRAFTS:DRAFTS + REPLIES])
    ])
    _bulk(Task, [
        Task(tenant=tenant, idempotency_key=f"bench-task-{e.pk}", enrollment_id=e.pk, contact_id=e.contact_id,
             step=steps[1], title="Call", owner=owners[n % len(owners)], due_at=now + timedelta(hours=n % 72))
        for n, e in enumerate(enrollments[-TASKS:])
    ])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return ids_of(manager)


def ids_of(manager):
    from contacts.models import Tag
    from sequences.models import Enrollment, Sequence

    sequence = Sequence.objects.get(name="Bench outreach")
    return {
        "user": manager.pk, "sequence": sequence.pk,
        "tag": Tag.objects.filter(tenant=sequence.tenant).order_by("pk").first().pk,
        "enrollment": Enrollment.objects.filter(sequence=sequence).order_by("pk")[CONTACTS // 2].pk,
    }


def session_cookie(user):
    """A logged-in session for `user`, made the way login makes one."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port):
    """gunicorn with the production settings (DEBUG=false) on this database."""
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "scendcore.settings.base", "DEBUG": "false",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "SECURE_SSL_REDIRECT": "false", "ALLOWED_HOSTS": "127.0.0.1", "REDIS_URL": "", "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "scendcore.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level",
         "warning"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("gunicorn exited")
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not answer within 60 s")


def timed(port, path, cookie, count):
    opener = urllib.request.build_opener()
    # The cookie is marked Secure in production; it is sent by hand over this local HTTP.
    opener.addheaders = [("Cookie", f"sessionid={cookie}"), ("X-Forwarded-Proto", "https")]
    times = []
    for _ in range(count + 2):
        start = time.perf_counter()
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
            response.read()
            if response.status != 200 or not response.geturl().endswith(path):
                raise SystemExit(f"{path} answered {response.status} at {response.geturl()}")
        times.append((time.perf_counter() - start) * 1000)
    times = sorted(times[2:])  # the first two warm the workers
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, round(len(times) * 0.95) - 1)], 1)}


def queries(user, path):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return {"queries": len(captured), "sql_ms": round(sum(float(q["time"]) for q in captured) * 1000, 1)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--only", default="", help="comma-separated page names")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    if args.reuse:
        os.environ["DATABASE_URL"] = throwaway_db.url_of(BENCH_DB)
    else:
        throwaway_db.recreate(BENCH_DB)
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)  # the in-process logins' audit lines
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    result = {"bench": "pages", "contacts": CONTACTS, "drafts": DRAFTS, "requests_per_page": args.requests}
    server = None
    try:
        call_command("migrate", verbosity=0)
        if args.reuse:
            ids = ids_of(get_user_model().objects.get(username="bench-manager"))
        else:
            t0 = time.perf_counter()
            ids = seed(random.Random(7))
            result["seed_s"] = round(time.perf_counter() - t0, 1)
        user = get_user_model().objects.get(pk=ids["user"])
        port = free_port()
        server = serve(port)
        cookie = session_cookie(user)
        wanted = {name for name in args.only.split(",") if name}
        measured = {}
        for name, path in pages(ids):
            if wanted and name not in wanted:
                continue
            measured[name] = {"path": path, **timed(port, path, cookie, args.requests), **queries(user, path)}
            print(name, json.dumps(measured[name]), file=sys.stderr)
        result["pages"] = measured
        result["slowest_p95_ms"] = max(page["p95_ms"] for page in measured.values())
        result["target_met"] = result["slowest_p95_ms"] < TARGET_P95_MS
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            throwaway_db.drop(BENCH_DB)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
