"""Set-based bulk enrollment at scale, on PostgreSQL.

Bulk-enrolls 10,000 contacts (a mix: fresh, already enrolled, do-not-contact,
unsubscribed) into a sequence of a throw-away database, several times into fresh
sequences, and reports the median. Target: < 5 s. Last line of output: one JSON object.

    DJANGO_SETTINGS_MODULE=scendcore.settings.test .venv/bin/python bench/enroll.py
"""
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import throwaway_db  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scendcore.settings.test")
BENCH_DB = "scendcore_bench_enroll"
CONTACTS = int(os.environ.get("BENCH_CONTACTS", 10_000))
RUNS = int(os.environ.get("BENCH_RUNS", 3))


def _seed():
    from django.utils import timezone

    from contacts.models import Contact
    from scendcore.models import Tenant

    tenant = Tenant.objects.create(name="Bench", slug="bench", default_timezone="America/New_York")
    zones = ["Europe/Berlin", "America/Los_Angeles", "Asia/Tokyo", ""]
    now = timezone.now()
    Contact.objects.bulk_create([
        Contact(tenant=tenant, email=f"c{i}@bench{i % 97}.example", first_name="C", last_name=str(i),
                timezone=zones[i % 4], do_not_contact=(i % 100 == 1), unsubscribed_at=now if i % 100 == 2 else None)
        for i in range(CONTACTS)
    ], batch_size=5000)
    return tenant, list(Contact.objects.filter(tenant=tenant).values_list("pk", flat=True))


def _sequence(tenant, n):
    from sequences.models import Step

    sequence = throwaway_db.sequence_with_version(tenant=tenant, name=f"Bench {n}", status="active")
    # A delay keeps the first step in the future, so no processor sweep runs inside the timing.
    Step.objects.create(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key="step-1", order=1, delay_value=1, delay_unit="days",
                        window_days=[0, 1, 2, 3, 4], jitter_minutes=30)
    Step.objects.create(tenant=tenant, sequence=sequence, version_id=sequence.current_version_id, key="step-2", order=2, delay_value=3, delay_unit="days")
    return sequence


def main():
    throwaway_db.recreate(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command

    from sequences.models import Activity, Enrollment
    from sequences.services.enrollments import enrollments_bulk_create

    try:
        call_command("migrate", verbosity=0)
        tenant, ids = _seed()
        timings, last = [], None
        for run in range(RUNS):
            sequence = _sequence(tenant, run)
            # 5% already enrolled, to exercise the classification.
            Enrollment.objects.bulk_create([Enrollment(tenant=tenant, sequence=sequence, contact_id=pk)
                                            for pk in ids[::20]])
            start = time.perf_counter()
            last = enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=ids, actor=None)
            timings.append(time.perf_counter() - start)
        again = time.perf_counter()
        repeat = enrollments_bulk_create(tenant=tenant, sequence=sequence, contact_ids=ids, actor=None)
        repeat_s = time.perf_counter() - again
        result = {
            "bench": "enroll", "contacts": CONTACTS, "runs": RUNS,
            "bulk_enroll_median_s": round(statistics.median(timings), 3),
            "bulk_enroll_max_s": round(max(timings), 3),
            "enrolled": last.enrolled, "already_enrolled": last.already_enrolled, "skipped": last.skipped,
            "activities_per_run": Activity.objects.filter(sequence=sequence).count(),
            "repeat_all_already_enrolled_s": round(repeat_s, 3), "repeat_enrolled": repeat.enrolled,
        }
        result["target_met"] = result["bulk_enroll_max_s"] < 5
    finally:
        throwaway_db.drop(BENCH_DB)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
