"""Zero-config mode (SQLite) keeps the enrollment tallies with row triggers of its own:
here they run in an in-memory SQLite database holding the columns they read, through
a random mix of the writes the app makes, and must equal a recount after it."""
import random
import sqlite3

from sequences.tally_triggers import BACKFILL, SQLITE_TRIGGERS

SCHEMA = [
    "CREATE TABLE contacts_contact (id INTEGER PRIMARY KEY, tenant_id INTEGER, owner_id INTEGER)",
    "CREATE TABLE sequences_enrollment (id INTEGER PRIMARY KEY, tenant_id INTEGER, contact_id INTEGER,"
    " enrolled_by_id INTEGER, status TEXT, next_run_at TEXT)",
    "CREATE TABLE sequences_enrollmenttally (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id INTEGER,"
    " user_id INTEGER, status TEXT, delta INTEGER)",
]
STATUSES = ["active", "paused", "completed", "unenrolled", "failed"]
USERS = {1: [1, 2, 3], 2: [9]}  # tenant -> members; tenant 2 is the outsider


def _database():
    db = sqlite3.connect(":memory:")
    for statement in SCHEMA + SQLITE_TRIGGERS:
        db.execute(statement)
    return db


def _tallies(db):
    return dict(((t, u, s), n) for t, u, s, n in db.execute(
        "SELECT tenant_id, user_id, status, SUM(delta) FROM sequences_enrollmenttally"
        " GROUP BY 1, 2, 3 HAVING SUM(delta) <> 0"))


def _recount(db):
    """Straight from the definition: per enrollment, each distinct user among the
    contact's owner and the enrolling user."""
    counts = {}
    rows = db.execute("SELECT e.tenant_id, e.status, c.owner_id, e.enrolled_by_id FROM sequences_enrollment e"
                      " LEFT JOIN contacts_contact c ON c.id = e.contact_id")
    for tenant, status, owner, enrolled_by in rows:
        for user in {owner, enrolled_by} - {None}:
            counts[tenant, user, status] = counts.get((tenant, user, status), 0) + 1
    return counts


def _workload(db, rng, steps):
    for _ in range(steps):
        tenant = rng.choice([1, 2])
        contacts = [r[0] for r in db.execute("SELECT id FROM contacts_contact WHERE tenant_id = ?", [tenant])]
        enrollments = [r[0] for r in db.execute("SELECT id FROM sequences_enrollment WHERE tenant_id = ?", [tenant])]
        member = rng.choice(USERS[tenant] + [None])
        action = rng.choice(["contact", "enroll", "enroll_many", "status", "status_many", "lease", "owner",
                             "owner_many", "member_gone", "delete", "delete_contact"])
        if action == "contact" or not contacts:
            db.execute("INSERT INTO contacts_contact (tenant_id, owner_id) VALUES (?, ?)", [tenant, member])
        elif action == "enroll":
            db.execute("INSERT INTO sequences_enrollment (tenant_id, contact_id, enrolled_by_id, status)"
                       " VALUES (?, ?, ?, 'active')", [tenant, rng.choice(contacts), member])
        elif action == "enroll_many":
            db.execute("INSERT INTO sequences_enrollment (tenant_id, contact_id, enrolled_by_id, status)"
                       " SELECT tenant_id, id, ?, 'active' FROM contacts_contact WHERE tenant_id = ?",
                       [member, tenant])
        elif action == "status" and enrollments:
            db.execute("UPDATE sequences_enrollment SET status = ? WHERE id = ?",
                       [rng.choice(STATUSES), rng.choice(enrollments)])
        elif action == "status_many":
            db.execute("UPDATE sequences_enrollment SET status = ? WHERE tenant_id = ? AND status = ?",
                       [rng.choice(STATUSES), tenant, rng.choice(STATUSES)])
        elif action == "lease":  # the processor's writes that change no figure
            db.execute("UPDATE sequences_enrollment SET next_run_at = 'soon' WHERE tenant_id = ?", [tenant])
        elif action == "owner":
            db.execute("UPDATE contacts_contact SET owner_id = ? WHERE id = ?", [member, rng.choice(contacts)])
        elif action == "owner_many":
            db.execute("UPDATE contacts_contact SET owner_id = ? WHERE tenant_id = ?", [member, tenant])
        elif action == "member_gone":  # SET_NULL when a user is deleted
            gone = rng.choice(USERS[tenant])
            db.execute("UPDATE sequences_enrollment SET enrolled_by_id = NULL WHERE enrolled_by_id = ?", [gone])
            db.execute("UPDATE contacts_contact SET owner_id = NULL WHERE owner_id = ?", [gone])
        elif action == "delete" and enrollments:
            db.execute("DELETE FROM sequences_enrollment WHERE id = ?", [rng.choice(enrollments)])
        elif action == "delete_contact":  # its enrollments go first, as Django deletes
            gone = rng.choice(contacts)
            db.execute("DELETE FROM sequences_enrollment WHERE contact_id = ?", [gone])
            db.execute("DELETE FROM contacts_contact WHERE id = ?", [gone])


def test_sqlite_triggers_keep_the_tallies_equal_to_a_recount():
    db, rng = _database(), random.Random(3)

    _workload(db, rng, steps=400)

    recount = _recount(db)
    assert len({status for _, _, status in recount}) >= 3  # a real mix
    assert any(tenant == 2 for tenant, _, _ in recount)  # the outsider's rows exist, under their tenant
    assert _tallies(db) == recount


def test_the_migrations_count_of_existing_enrollments_works_on_sqlite():
    db, rng = _database(), random.Random(4)
    _workload(db, rng, steps=200)
    db.execute("DELETE FROM sequences_enrollmenttally")

    db.execute(BACKFILL)

    assert _tallies(db) == _recount(db)
