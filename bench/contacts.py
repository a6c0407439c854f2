"""Contacts page and CSV import at scale, on PostgreSQL.

Seeds 100,000 contacts in one tenant of a throw-away database, then measures the
contacts page's server time (full request through the middleware, median and p95 over
repeated requests with filters, search and sorting) and the import of a 50,000-row CSV.
Targets: p95 page < 300 ms, import < 60 s. Last line of output: one JSON object.

    DJANGO_SETTINGS_MODULE=scendcore.settings.test .venv/bin/python bench/contacts.py
"""
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import throwaway_db  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scendcore.settings.test")
BENCH_DB = "scendcore_bench_contacts"
CONTACTS = int(os.environ.get("BENCH_CONTACTS", 100_000))
IMPORT_ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", 50_000))
REPEAT = int(os.environ.get("BENCH_REPEAT", 7))


FIRST = ["Ada", "Bob", "Cleo", "Dev", "Eve", "Finn", "Gia", "Hal", "Ivy", "Jon", "Kai", "Lea", "Max", "Nia"]
LAST = ["Smith", "Jones", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Moore", "Taylor", "Clark", "Lewis"]
WORDS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Soylent"]
TAILS = ["Corp", "Labs", "Systems", "Group", "Partners", "Holdings", "Analytics", "Logistics"]


def _seed(rng):
    from django.contrib.auth import get_user_model

    from contacts.models import Contact, ContactList, ListMembership, Tag
    from scendcore.models import Membership, Tenant
    from sequences.models import Enrollment, Step

    tenant = Tenant.objects.create(name="Bench", slug="bench", default_timezone="America/New_York")
    users = [get_user_model().objects.create_user(f"rep{i}", f"rep{i}@bench.example", "pw") for i in range(5)]
    for u in users:
        Membership.objects.create(user=u, tenant=tenant, role="manager")
    statuses, bands = ["new", "contacted", "qualified", "converted", "disqualified"], ["cold", "warm", "hot"]
    batch = []
    for i in range(CONTACTS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = f"{rng.choice(WORDS)} {rng.choice(TAILS)} {i % 900}"
        batch.append(Contact(
            tenant=tenant, email=f"{first.lower()}.{last.lower()}.{i}@{company.split()[0].lower()}{i % 500}.example",
            first_name=first, last_name=last, company=company, title="Buyer", timezone="Europe/Berlin",
            lead_status=statuses[i % 5], score_band=bands[i % 3], owner_id=users[i % 5].pk,
        ))
        if len(batch) == 10_000:
            Contact.objects.bulk_create(batch)
            batch = []
    Contact.objects.bulk_create(batch)
    ids = list(Contact.objects.filter(tenant=tenant).values_list("pk", flat=True))
    tags = [Tag.objects.create(tenant=tenant, name=n) for n in ("vip", "event", "partner")]
    through = Contact.tags.through
    through.objects.bulk_create([through(contact_id=pk, tag_id=tags[pk % 3].pk) for pk in ids[::4]], batch_size=10_000)
    lists = [ContactList.objects.create(tenant=tenant, name=f"List {i}") for i in range(3)]
    ListMembership.objects.bulk_create(
        [ListMembership(contact_list=lists[pk % 3], contact_id=pk) for pk in ids[::10]], batch_size=10_000)
    sequence = throwaway_db.sequence_with_version(tenant=tenant, name="Bench", status="active")
    step = Step.objects.create(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key="step-1", order=1, delay_value=1)
    Enrollment.objects.bulk_create(
        [Enrollment(tenant=tenant, sequence=sequence, contact_id=pk, current_step=step) for pk in ids[::5]],
        batch_size=10_000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return tenant, users[0], lists, tags


def _page_timings(user, lists, tags):
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    queries = [
        {}, {"page": "40"}, {"q": "smith"}, {"q": "globex labs"}, {"q": "ada.garcia.4"}, {"q": "zz-no-match"},
        {"status": "qualified"}, {"score": "hot", "sort": "-created"}, {"status": "new", "score": "warm", "sort": "company"},
        {"list": str(lists[1].pk)}, {"tag": str(tags[0].pk)}, {"in_sequence": "yes"}, {"in_sequence": "no", "sort": "email"},
        {"owner": str(user.pk), "q": "jones"},
    ]
    client.get("/contacts/")  # warm caches and connections
    timings, per_query = [], {}
    for _ in range(REPEAT):
        for params in queries:
            start = time.perf_counter()
            response = client.get("/contacts/", params)
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.status_code
            timings.append(elapsed)
            per_query.setdefault(json.dumps(params), []).append(elapsed)
    timings.sort()
    slowest = max(per_query.items(), key=lambda kv: statistics.median(kv[1]))
    return {
        "page_requests": len(timings),
        "page_median_ms": round(statistics.median(timings), 1),
        "page_p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
        "page_max_ms": round(timings[-1], 1),
        "slowest_query": slowest[0], "slowest_query_median_ms": round(statistics.median(slowest[1]), 1),
    }


def _csv(rng):
    lines = ["Email,First Name,Last Name,Company,Phone,Job Title,Timezone,Industry"]
    for i in range(IMPORT_ROWS):
        email = f"import{i}@newco{i % 300}.example"
        phone, tz = f"+1 (415) 555-{i % 10000:04d}", "America/Chicago"
        if i % 50 == 1:
            email = f"broken-{i}"
        elif i % 50 == 2:
            phone = "12"
        elif i % 50 == 3:
            tz = "Mars/Base"
        lines.append(f"{email},{rng.choice(FIRST)},{rng.choice(LAST)},{rng.choice(WORDS)} Inc,{phone},Manager,{tz},Retail")
    return ("\n".join(lines) + "\n").encode()


def _import_timing(tenant, user, rng):
    from contacts.models import ImportJob
    from contacts.services.imports import import_prepare, import_start

    raw = _csv(rng)
    start = time.perf_counter()
    job = import_prepare(tenant=tenant, file_name="bench.csv", raw=raw, actor=user)
    prepared = time.perf_counter()
    # Celery runs eagerly in test settings: the task runs on commit, inside this call.
    import_start(tenant=tenant, job=job, mapping=job.mapping, duplicate_policy="update", actor=user)
    done = time.perf_counter()
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == "done", job.error
    return {
        "import_rows": IMPORT_ROWS, "import_upload_s": round(prepared - start, 2),
        "import_run_s": round(done - prepared, 2), "import_total_s": round(done - start, 2),
        "import_created": job.created_count, "import_rejected": job.rejected_count,
    }


def main():
    throwaway_db.recreate(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        rng = random.Random(7)
        t0 = time.perf_counter()
        tenant, user, lists, tags = _seed(rng)
        result = {"bench": "contacts", "contacts": CONTACTS, "seed_s": round(time.perf_counter() - t0, 1)}
        result |= _page_timings(user, lists, tags)
        result |= _import_timing(tenant, user, rng)
        result["page_target_met"] = result["page_p95_ms"] < 300
        result["import_target_met"] = result["import_total_s"] < 60
    finally:
        throwaway_db.drop(BENCH_DB)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
